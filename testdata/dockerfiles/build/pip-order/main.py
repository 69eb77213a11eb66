print("ml fixture")
