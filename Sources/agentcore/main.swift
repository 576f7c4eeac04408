print("agentcore")
