// starling-store-bench: feedback rows per second into the agent's SQLite store (to be written).
print("starling-store-bench: not written yet")
