import Foundation

/// What Python's sqlite3 achieved on the same schema.
struct PeerResult {
    var predictionRate: Double
    var feedbackRate: Double
    var sqliteVersion: String
}

/// The peer: plain `executemany` in transactions of `batch` rows, WAL and synchronous=NORMAL as
/// the store uses, on a copy of the store's (empty) schema. Feedback rows are inserted the same
/// way the store does it: looking the prediction up by request id.
let peerScript = """
    import sqlite3, sys, time, json
    schema_from, path, rows, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    src = sqlite3.connect(schema_from)
    ddl = [r[0] for r in src.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'"
        " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END")]
    src.close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL"); db.execute("PRAGMA synchronous = NORMAL"); db.execute("PRAGMA foreign_keys = ON")
    for statement in ddl: db.execute(statement)
    inputs = "[0.0,0.25,0.5,0.75,1.0,0.0,0.25,0.5,0.75,1.0,0.0,0.25,0.5,0.75,1.0,0.0]"
    digest = "a" * 64
    start = time.perf_counter()
    for first in range(0, rows, batch):
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO predictions (request_id, time, model_name, model_version, inputs, input_digest, outputs, latency_us)"
            " VALUES (?, ?, 'digits', '1.0.0', ?, ?, '[0.05,0.95]', 180)",
            [("req-%d" % i, 1800000000000 + i, inputs, digest) for i in range(first, min(rows, first + batch))])
        db.execute("COMMIT")
    predictions = rows / (time.perf_counter() - start)
    start = time.perf_counter()
    for first in range(0, rows, batch):
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO feedback (prediction_seq, label, time) SELECT seq, ?, ? FROM predictions WHERE request_id = ?",
            [(str(i % 10), 1800000100000, "req-%d" % i) for i in range(first, min(rows, first + batch))])
        db.execute("COMMIT")
    feedback = rows / (time.perf_counter() - start)
    count = db.execute("SELECT count(*) FROM feedback").fetchone()[0]
    assert count == rows, count
    print(json.dumps({"predictions": predictions, "feedback": feedback, "sqlite": sqlite3.sqlite_version}))
    """

/// Runs the peer; nil (with a note on stderr) if Python is not there.
func pythonBaseline(python: String, schemaFrom: String, directory: String, rows: Int, batch: Int) throws -> PeerResult? {
    let script = "\(directory)/peer.py"
    try peerScript.write(toFile: script, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, script, schemaFrom, "\(directory)/peer.sqlite", String(rows), String(batch)]
    let output = Pipe()
    process.standardOutput = output
    do {
        try process.run()
    } catch {
        FileHandle.standardError.write(Data("starling-store-bench: cannot run \(python): \(error)\n".utf8))
        return nil
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
        let predictions = object["predictions"] as? Double, let feedback = object["feedback"] as? Double
    else {
        FileHandle.standardError.write(Data("starling-store-bench: the Python peer failed\n".utf8))
        return nil
    }
    return PeerResult(predictionRate: predictions, feedbackRate: feedback, sqliteVersion: object["sqlite"] as? String ?? "?")
}
