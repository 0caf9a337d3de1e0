import Testing

@testable import Core

@Suite("CSV and labelled data")
struct DataTests {
    func parse(_ text: String) throws -> DataTable { try CSV.parse(Array(text.utf8)) }

    @Test("quotes, embedded commas and newlines, CRLF and a byte-order mark")
    func quoting() throws {
        let table = try parse("\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\nlines\",\r\n")
        #expect(table.columnNames == ["a", "b", "c"])
        #expect(table.rowCount == 2)
        #expect(try table.cells("b") == ["x, y", "two\nlines"])
        #expect(try table.cells("c") == ["say \"hi\"", ""])
        #expect(try parse(CSV.render(table)) == table)
        #expect(try parse("a\n\"\"\n\n1\n").cells("a") == ["", "1"], "a quoted empty row is a row; a blank line is not")
    }

    @Test("malformed CSV gives an error naming the line or column", arguments: [
        ("", "empty"),
        ("a,b\n1,2,3\n", "line 2"),
        ("a,b\n1\n", "line 2"),
        ("a,a\n1,2\n", "appears twice"),
        ("a,\n1,2\n", "no name"),
        ("a,b\n\"1,2\n", "never closed"),
        ("a,b\n1\"x\",2\n", "quote"),
        ("a,b\n\"x\"y,2\n", "after the closing quote"),
    ])
    func malformed(_ text: String, _ fragment: String) {
        #expect {
            try parse(text)
        } throws: { "\($0)".contains(fragment) }
    }

    @Test("numbers: non-numeric, empty and non-finite cells are named")
    func numbers() throws {
        let table = try parse("x,y,z,w\n1.5,abc,,inf\n")
        #expect(try table.numbers("x") == [1.5])
        #expect { try table.numbers("y") } throws: { "\($0)".contains("'abc' is not a number") && "\($0)".contains("column 'y'") }
        #expect { try table.numbers("z") } throws: { "\($0)".contains("row 1") }
        #expect { try table.numbers("w") } throws: { ($0 as? ModelError)?.code == .nonFinite }
        #expect { try table.numbers("nope") } throws: { "\($0)".contains("no column 'nope'") }
    }

    @Test("labels: missing column, empty labels, class encoding")
    func labels() throws {
        let table = try parse("f,label\n1,cat\n2,dog\n3,cat\n")
        #expect { try LabeledData(table, label: "class") } throws: { "\($0)".contains("no column 'class'") }
        let data = try LabeledData(table, label: "label")
        #expect(data.features.columnNames == ["f"])
        let encoder = ClassEncoder(fitting: data.labels)
        #expect(encoder.classes == ["cat", "dog"])
        #expect(try encoder.encode(["dog", "cat"]) == [1, 0])
        #expect { try encoder.encode(["bird"]) } throws: { "\($0)".contains("'bird'") }
        #expect(ClassEncoder(fitting: ["10", "9", "1"]).classes == ["1", "9", "10"])
        #expect { try LabeledData(try parse("f,label\n1,\n"), label: "label") } throws: { "\($0)".contains("no label") }
    }

    @Test("seeded splits are deterministic and disjoint")
    func split() throws {
        let text = "f,label\n" + (0..<50).map { "\($0),\($0 % 3)" }.joined(separator: "\n")
        let data = try LabeledData(try parse(text), label: "label")
        let a = try data.split(testFraction: 0.2, seed: 4)
        let b = try data.split(testFraction: 0.2, seed: 4)
        #expect(a.train == b.train && a.test == b.test)
        #expect(a.test.labels.count == 10 && a.train.labels.count == 40)
        let trainRows = Set(try a.train.features.numbers("f"))
        #expect(trainRows.isDisjoint(with: try a.test.features.numbers("f")))
        #expect(try data.split(testFraction: 0.2, seed: 5).test != a.test)
    }

    @Test("the digits split file has the documented sizes")
    func digitsSplit() throws {
        let split = try DataSplit.read(path: TestSupport.root + "/data/digits_dirichlet05_20clients.json")
        #expect(split.trainIndices.count == 1437 && split.testIndices.count == 360)
        #expect(Set(split.trainIndices).isDisjoint(with: split.testIndices))
        #expect(split.clients?.count == 20)
    }
}

@Suite("Feature pipeline")
struct FeatureTests {
    let table = try! CSV.parse(Array("""
        age,income,city,note,score
        20,1000,paris,Red fox jumps,1
        30,3000,rome,the red DOG,2
        40,2000,paris,,3
        """.utf8))

    @Test("standardize and min-max learn training statistics (numpy-style population std)")
    func scaling() throws {
        let standard = try FeatureRecipe(scaling: .standard, categorical: ["city"], text: []).fit(try table.dropping("note"))
        let x = try standard.transform(try table.dropping("note"))["input"]!
        #expect(x.shape == [3, 5])
        // age: mean 30, std sqrt(200/3) = 8.1650
        #expect(abs(x.scalars[0] - (-1.2247449)) < 1e-5)
        #expect(abs(x.scalars[5] - 0) < 1e-6)
        let minmax = try FeatureRecipe(scaling: .minMax).fit(try table.dropping("note").dropping("city"))
        let y = try minmax.transform(try table.dropping("note").dropping("city"))["input"]!
        #expect(Array(y.scalars[0..<3]) == [0, 0, 0])
        #expect(Array(y.scalars[3..<6]) == [0.5, 1, 0.5])
    }

    @Test("one-hot, bucketize and token hashing")
    func encodings() throws {
        let recipe = FeatureRecipe(scaling: .none, categorical: ["city"], buckets: ["income": [1500, 2500]], text: ["note"], maxTokens: 4)
        let pipeline = try recipe.fit(try table.dropping("score"))
        let feeds = try pipeline.transform(try table.dropping("score"))
        let x = feeds["input"]!
        // age, then income buckets (3), then city one-hot (paris, rome).
        #expect(x.shape == [3, 6])
        #expect(Array(x.scalars[0..<6]) == [20, 1, 0, 0, 1, 0])
        #expect(Array(x.scalars[6..<12]) == [30, 0, 0, 1, 0, 1])
        #expect(Array(x.scalars[12..<18]) == [40, 0, 1, 0, 1, 0])
        let tokens = feeds["tokens"]!
        #expect(tokens.shape == [3, 4])
        // "red" hashes the same in both rows (lower-cased); empty text is all padding.
        #expect(tokens.scalars[0] == tokens.scalars[5])
        #expect(tokens.scalars[3] == -1)
        #expect(Array(tokens.scalars[8..<12]) == [-1, -1, -1, -1])
        let unknown = try CSV.parse(Array("age,income,city,note\n1,1,london,x\n".utf8))
        #expect(Array(try pipeline.transform(unknown)["input"]!.scalars[4..<6]) == [0, 0], "unknown category: all zeros")
    }

    @Test("FNV-1a token ids match the published hash values")
    func fnv() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c.
        let expected = Int(UInt64(0xaf63_dc4c_8601_ec8c) % UInt64(1 << 62))
        #expect(TokenHasher.ids("A", buckets: 1 << 62, maxTokens: 1, lowercase: true) == [expected])
        #expect(TokenHasher.ids("one, two;three", buckets: 100, maxTokens: 2, lowercase: false).count == 2)
    }

    @Test("images keep their HWC layout and a global scale")
    func image() throws {
        let columns = (0..<8).map { "p\($0)" }
        let text = columns.joined(separator: ",") + "\n" + (0..<8).map { String($0 * 2) }.joined(separator: ",") + "\n"
        let t = try CSV.parse(Array(text.utf8))
        let pipeline = try FeatureRecipe(scaling: .divide(16), image: [2, 2, 2]).fit(t)
        let x = try pipeline.transform(t)["input"]!
        #expect(x.shape == [1, 2, 2, 2])
        #expect(x.scalars == (0..<8).map { Float($0 * 2) / 16 })
        #expect(throws: ModelError.self) { try FeatureRecipe(image: [3, 3, 1]).fit(t) }
    }

    @Test("the pipeline round-trips through the model file and errors name the step")
    func validation() throws {
        let bad = FeaturePipeline(steps: [FeatureStep(columns: ["a", "b"], transform: .standardize(mean: [0], std: [1]))])
        #expect { try bad.validate() } throws: { "\($0)".contains("step 1") }
        let pipeline = try FeatureRecipe(scaling: .standard).fit(try table.dropping("city").dropping("note"))
        let graph = try ModelBuilder.build(.logisticRegression, inputShape: [3], outputs: 2)
        let model = Model(metadata: ModelMetadata(name: "t"), features: pipeline, graph: graph)
        #expect(try ModelFile.decode(try ModelFile.encode(model)).features == pipeline)
        let wrong = Model(metadata: ModelMetadata(name: "t"), features: pipeline, graph: try ModelBuilder.build(.logisticRegression, inputShape: [4], outputs: 2))
        #expect { try wrong.validate() } throws: { ($0 as? ModelError)?.code == .shapeMismatch }
    }
}
