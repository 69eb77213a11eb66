print("cleanup fixture")
