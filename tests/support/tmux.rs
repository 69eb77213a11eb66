//! tmux on a private socket: a real terminal for the tests of `explore`
//! and of the text report's width.

use std::process::{Command, Output};

/// A tmux server of its own, killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server on a socket named after `name` and this process.
    pub fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("layerscope-{name}-{}", std::process::id()),
        }
    }

    /// A server on its own socket whose window `x`, `cols` x `rows`, runs
    /// `command`.
    pub fn start(name: &str, cols: u16, rows: u16, command: &str) -> Tmux {
        let tmux = Tmux::new(name);
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "x",
            "-x",
            &cols,
            "-y",
            &rows,
            command,
        ]);
        assert!(out.status.success(), "{out:?}");
        tmux
    }

    /// Runs `tmux ARGS...` on this server.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap()
    }

    /// The visible pane of window `x`.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "x"]).stdout).into_owned()
    }

    /// The pane and its history, lines the terminal wrapped joined again
    /// (`-J`): a line wider than the pane shows as one long line.
    pub fn joined(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", "x"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (up to 30 s) for the screen to show `text`.
    pub fn wait_for(&self, text: &str) -> String {
        for _ in 0..300 {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("`{text}` never appeared:\n{}", self.screen());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
