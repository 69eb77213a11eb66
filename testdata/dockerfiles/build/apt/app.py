print("apt fixture")
