print("starling-hub")
