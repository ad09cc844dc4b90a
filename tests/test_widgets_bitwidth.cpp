// BitwidthEditor: pattern parsing, field/grid synchronisation, overrides and validation.
#include "bitbench_widgets/bitwidth_editor.h"

#include <QLineEdit>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTest>

using namespace bitbench::widgets;

Q_DECLARE_METATYPE(bitbench::widgets::ClassBits)

namespace {

const QStringList kLeNet = {QStringLiteral("conv1"), QStringLiteral("conv2"),
                            QStringLiteral("fc1"), QStringLiteral("fc2")};

// What the grid shows, read back through the table model (not the editor's own state).
QVector<ClassBits> gridBits(const BitwidthEditor& e) {
    QVector<ClassBits> out;
    for (int l = 0; l < e.grid()->rowCount(); ++l) {
        ClassBits row{};
        for (int c = 0; c < kClassCount; ++c)
            row[c] = e.grid()->item(l, c)->data(Qt::EditRole).toInt();
        out.push_back(row);
    }
    return out;
}

} // namespace

class TestWidgetsBitwidth : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parseValid_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<ClassBits>("bits");
        QTest::newRow("dashed") << "2-8-8-8" << ClassBits{2, 8, 8, 8};
        QTest::newRow("compact") << "2888" << ClassBits{2, 8, 8, 8};
        QTest::newRow("compact float") << "28f8" << ClassBits{2, 8, 0, 8};
        QTest::newRow("compact twelve") << "28C8" << ClassBits{2, 8, 12, 8};
        QTest::newRow("compact lower hex") << "28c8" << ClassBits{2, 8, 12, 8};
        QTest::newRow("compact two floats") << "28ff" << ClassBits{2, 8, 0, 0};
        QTest::newRow("dashed sixteen") << "1-16-f-10" << ClassBits{1, 16, 0, 10};
        QTest::newRow("spaces") << "  2 - 8 - 8 - 8 " << ClassBits{2, 8, 8, 8};
    }
    void parseValid() {
        QFETCH(QString, text);
        QFETCH(ClassBits, bits);
        QString error;
        const auto parsed = bitwidth_parse_pattern(text, &error);
        QVERIFY2(parsed.has_value(), qPrintable(error));
        QCOMPARE(*parsed, bits);
        QVERIFY(bitwidth_validate_pattern(text).isEmpty());
    }

    void parseInvalid_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("three fields") << "2-8-8" << "got 3";
        QTest::newRow("junk field") << "2-8-8-9x" << "'9x'";
        QTest::newRow("zero bits compact") << "0888" << "0 bits";
        QTest::newRow("too many bits") << "2-8-8-33" << "33 bits";
        QTest::newRow("empty") << "" << "empty";
        QTest::newRow("zero dashed") << "2-0-8-8" << "0 bits";
        QTest::newRow("five chars") << "28888" << "5 characters";
        QTest::newRow("empty field") << "2--8-8" << "empty";
        QTest::newRow("letter") << "28x8" << "'x'";
    }
    void parseInvalid() {
        QFETCH(QString, text);
        QFETCH(QString, mentions);
        QString error;
        QVERIFY(!bitwidth_parse_pattern(text, &error).has_value());
        QVERIFY2(error.contains(mentions), qPrintable(error));
        QCOMPARE(bitwidth_validate_pattern(text), error);
    }

    void formatRoundTrips() {
        const ClassBits bits{2, 8, 0, 12};
        QCOMPARE(bitwidth_format_dashed(bits), QStringLiteral("2-8-f-12"));
        QCOMPARE(bitwidth_format_compact(bits), QStringLiteral("28fC"));
        QCOMPARE(*bitwidth_parse_pattern(bitwidth_format_compact(bits)), bits);
        QVERIFY(bitwidth_format_compact({2, 8, 16, 8}).isEmpty());
    }

    void patternDrivesGrid() {
        BitwidthEditor e;
        e.setLayers(kLeNet);
        QSignalSpy spy(&e, &BitwidthEditor::configChanged);
        // Typed into the field as a user would.
        e.patternEdit()->selectAll();
        QTest::keyClicks(e.patternEdit(), QStringLiteral("28f8"));
        QCOMPARE(e.pattern(), QStringLiteral("28f8"));
        QVERIFY(e.errorText().isEmpty());
        for (const ClassBits& row : gridBits(e))
            QCOMPARE(row, (ClassBits{2, 8, 0, 8}));
        QVERIFY(spy.count() >= 1);
        const auto cfg = spy.last().at(0).value<BitwidthConfig>();
        QCOMPARE(cfg.pattern, QStringLiteral("28f8"));
        QCOMPARE(cfg.layerBits.size(), 4);
        QCOMPARE(cfg.layerBits[3], (ClassBits{2, 8, 0, 8}));
        QCOMPARE(e.grid()->item(0, 2)->text(), QString::number(0)); // stored as 0 = float
    }

    void gridEditCreatesOverride() {
        BitwidthEditor e;
        e.setLayers(kLeNet);
        QVERIFY(e.setPattern(QStringLiteral("2-8-8-8")));
        QSignalSpy spy(&e, &BitwidthEditor::configChanged);
        // Through the model, as the cell's spin box editor commits it.
        e.grid()->item(1, 1)->setData(Qt::EditRole, 4);
        QVERIFY(e.isOverridden(1, 1));
        QCOMPARE(e.overrideCount(), 1);
        QCOMPARE(e.pattern(), QStringLiteral("2-8-8-8"));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.last().at(0).value<BitwidthConfig>().layerBits[1], (ClassBits{2, 4, 8, 8}));
        QVERIFY(e.grid()->item(1, 1)->font().bold());
        QVERIFY(!e.grid()->item(0, 1)->font().bold());
        QVERIFY(e.grid()->item(1, 1)->background().color() !=
                e.grid()->item(0, 1)->background().color());
        QVERIFY(e.resetOverridesAction()->isEnabled());
        // Back to the pattern's value: no longer an override.
        e.grid()->item(1, 1)->setData(Qt::EditRole, 8);
        QVERIFY(!e.isOverridden(1, 1));
        QVERIFY(!e.resetOverridesAction()->isEnabled());
    }

    void overridesSurvivePatternEdits() {
        BitwidthEditor e;
        e.setLayers(kLeNet);
        e.setCellBits(0, 0, 8);  // first conv with 8-bit weights, a common choice
        e.setCellBits(3, 3, 0);  // last layer's errors in float
        QVERIFY(e.setPattern(QStringLiteral("28C8")));
        QCOMPARE(gridBits(e)[0], (ClassBits{8, 8, 12, 8}));
        QCOMPARE(gridBits(e)[1], (ClassBits{2, 8, 12, 8}));
        QCOMPARE(gridBits(e)[3], (ClassBits{2, 8, 12, 0}));
        QVERIFY(e.isOverridden(0, 0));
        QVERIFY(e.isOverridden(3, 3));
        QCOMPARE(e.overrideCount(), 2);

        // Layers renamed or reordered keep their overrides by name.
        e.setLayers({QStringLiteral("fc2"), QStringLiteral("conv1"), QStringLiteral("extra")});
        QVERIFY(e.isOverridden(0, 3));
        QVERIFY(e.isOverridden(1, 0));
        QCOMPARE(gridBits(e)[2], (ClassBits{2, 8, 12, 8}));

        e.resetOverrides();
        QCOMPARE(e.overrideCount(), 0);
        for (const ClassBits& row : gridBits(e))
            QCOMPARE(row, (ClassBits{2, 8, 12, 8}));
    }

    void columnOverriddenEverywhereBecomesPattern() {
        BitwidthEditor e;
        e.setLayers(kLeNet);
        QVERIFY(e.setPattern(QStringLiteral("2888")));
        for (int l = 0; l < kLeNet.size(); ++l)
            e.setCellBits(l, 1, 4);
        QCOMPARE(e.pattern(), QStringLiteral("2488"));
        QCOMPARE(e.patternEdit()->text(), QStringLiteral("2488"));
        QCOMPARE(e.overrideCount(), 0);
        // A value with no compact character switches the field to the dashed form.
        for (int l = 0; l < kLeNet.size(); ++l)
            e.setCellBits(l, 2, 16);
        QCOMPARE(e.pattern(), QStringLiteral("2-4-16-8"));
    }

    void badPatternsLeaveGridUnchanged_data() {
        QTest::addColumn<QString>("text");
        QTest::newRow("2-8-8") << "2-8-8";
        QTest::newRow("2-8-8-9x") << "2-8-8-9x";
        QTest::newRow("0888") << "0888";
        QTest::newRow("2-8-8-33") << "2-8-8-33";
        QTest::newRow("empty") << "";
    }
    void badPatternsLeaveGridUnchanged() {
        QFETCH(QString, text);
        BitwidthEditor e;
        e.setLayers(kLeNet);
        QVERIFY(e.setPattern(QStringLiteral("2-8-8-8")));
        e.setCellBits(2, 0, 4);
        const QVector<ClassBits> before = gridBits(e);
        QSignalSpy spy(&e, &BitwidthEditor::configChanged);
        QVERIFY(!e.setPattern(text));
        QVERIFY(!e.errorText().isEmpty());
        QCOMPARE(e.errorText(), bitwidth_validate_pattern(text));
        QCOMPARE(gridBits(e), before);
        QCOMPARE(e.pattern(), QStringLiteral("2-8-8-8"));
        QCOMPARE(e.patternText(), text); // the user's text stays for fixing
        QCOMPARE(spy.count(), 0);
        // Fixing the text clears the message.
        QVERIFY(e.setPattern(QStringLiteral("2-8-8-8")));
        QVERIFY(e.errorText().isEmpty());
    }

    void customValidator() {
        BitwidthEditor e;
        e.setLayers(kLeNet);
        // The paper's rule of thumb: 8-8-8-8 diverges, keep G wider than W.
        e.setValidator([](const QString& text) {
            const auto bits = bitwidth_parse_pattern(text);
            if (bits && (*bits)[2] != kFloatBits && (*bits)[0] != kFloatBits &&
                (*bits)[2] <= (*bits)[0])
                return QStringLiteral("G must have more bits than W");
            return QString();
        });
        QVERIFY(!e.setPattern(QStringLiteral("8888")));
        QCOMPARE(e.errorText(), QStringLiteral("G must have more bits than W"));
        QCOMPARE(gridBits(e)[0], (ClassBits{2, 8, 8, 8}));
        // The built-in syntax check still applies after a custom validator accepts.
        QVERIFY(!e.setPattern(QStringLiteral("2-8-8")));
        QVERIFY(e.errorText().contains(QStringLiteral("got 3")));
        QVERIFY(e.setPattern(QStringLiteral("2-8-12-8")));
        e.setValidator({});
        QVERIFY(e.setPattern(QStringLiteral("8888")));
    }

    void costText() {
        BitwidthEditor e;
        QVERIFY(e.costText().isEmpty());
        e.setCostText(QStringLiteral("Energy per step 1.9 mJ"));
        QCOMPARE(e.costText(), QStringLiteral("Energy per step 1.9 mJ"));
    }

    void familyPatterns() {
        // Families as a caller would register them: affine has bits and a stochastic suffix,
        // ternary fixed 2 bits for W only.
        QVector<QuantFamilyChoice> fams = quant_family_choices_wage();
        fams.push_back({QStringLiteral("affine"), QStringLiteral("affine"), 1, 16, 0xF, true, {}});
        fams.push_back({QStringLiteral("ternary"), QStringLiteral("ternary"), 2, 2, 0x1, false, {}});
        QString err;
        QVERIFY(!quant_pattern_parse(QStringLiteral("2-8-8-8"), fams, &err).has_value());
        QVERIFY(err.isEmpty()); // a WAGE pattern: not this parser's to explain
        const auto cells = quant_pattern_parse(QStringLiteral("ternary-affine8s-f-8"), fams, &err);
        QVERIFY2(cells.has_value(), qPrintable(err));
        QCOMPARE((*cells)[0].family, QStringLiteral("ternary"));
        QCOMPARE((*cells)[0].bits, 2);
        QCOMPARE((*cells)[1].family, QStringLiteral("affine"));
        QCOMPARE((*cells)[1].bits, 8);
        QCOMPARE((*cells)[1].suffix, QStringLiteral("s"));
        QVERIFY((*cells)[2].isFloat());
        QVERIFY((*cells)[3].isWage() && (*cells)[3].bits == 8);
        QCOMPARE(quant_pattern_format(*cells, fams), QStringLiteral("ternary-affine8s-f-8"));
        QCOMPARE(cell_quant_text((*cells)[1], fams), QStringLiteral("affine 8 s"));
        QVERIFY(!quant_pattern_parse(QStringLiteral("ternary-affine33-f-8"), fams, &err).has_value());
        QCOMPARE(err, QStringLiteral("A (field 2): affine takes 1..16 bits, not 33"));
        QVERIFY(!quant_pattern_parse(QStringLiteral("8-ternary-f-8"), fams, &err).has_value());
        QCOMPARE(err, QStringLiteral("A (field 2): ternary does not serve class A"));

        BitwidthEditor e;
        e.setFamilies(fams);
        e.setLayers(kLeNet);
        QVERIFY(e.setPattern(QStringLiteral("ternary-affine8s-f-8")));
        QCOMPARE(e.cellText(3, 0), QStringLiteral("ternary"));
        QCOMPARE(e.cellBits(3, 1), 8);
        QCOMPARE(e.cellBits(3, 2), 0);
        e.setCellBits(0, 1, 4); // affine keeps its family and suffix
        QCOMPARE(e.cellText(0, 1), QStringLiteral("affine 4 s"));
        QVERIFY(e.isOverridden(0, 1));
        QCOMPARE(e.config().layerQuant[0][1].bits, 4);
        // The same value in every row folds into the pattern, written with family tokens.
        for (int l = 1; l < 4; ++l)
            e.setCellBits(l, 1, 4);
        QCOMPARE(e.overrideCount(), 0);
        QCOMPARE(e.pattern(), QStringLiteral("ternary-affine4s-f-8"));
        // Back to a WAGE pattern: every cell follows it.
        QVERIFY(e.setPattern(QStringLiteral("2-8-8-8")));
        QCOMPARE(e.cellText(1, 0), QStringLiteral("wage 2"));
    }

    void colourScaleOrdersBits() {
        // Distinct colours for the common widths, and float unlike any width.
        QSet<QRgb> seen;
        for (int b : {1, 2, 4, 8, 12, 16, kFloatBits})
            seen.insert(bitwidth_colour(b).rgb());
        QCOMPARE(seen.size(), 7);
    }
};

QTEST_MAIN(TestWidgetsBitwidth)
#include "test_widgets_bitwidth.moc"
