print("starling-agent")
