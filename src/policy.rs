//! Size budgets and their evaluation into an exit code.
