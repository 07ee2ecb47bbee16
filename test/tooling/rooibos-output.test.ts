import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRooibosOutput, parseRooibosOutputDetailed, RooibosOutputParser, toJUnitXml } from '../../scripts/lib/rooibos-output';
import { fillText, rooibosOutput } from '../device/rooibos-fixture';
import { PASSING_RUN, purchaseFlowSuite, SELECT_PLAN } from '../device/support';

test('fillText pads and truncates like Rooibos', () => {
    assert.equal(fillText('ab', '.', 6), 'ab....');
    assert.equal(fillText('abcdefgh', '.', 8), 'abc.....');
});

test('a passing run: counts, result, every listed test with suite > group > name', () => {
    const summary = parseRooibosOutput(rooibosOutput(PASSING_RUN));
    assert.ok(summary);
    assert.equal(summary.result, 'PASS');
    assert.deepEqual(
        { total: summary.total, passed: summary.passed, failed: summary.failed, crashed: summary.crashed, ignored: summary.ignored },
        { total: 3, passed: 3, failed: 0, crashed: 0, ignored: 0 }
    );
    assert.deepEqual(summary.tests, [
        { name: 'PurchaseFlow > selectPlan > stores the chosen plan', status: 'PASS' },
        { name: 'PurchaseFlow > selectPlan > ignores an unknown plan', status: 'PASS' },
        { name: 'CleengApi > login > sends the email', status: 'PASS' }
    ]);
});

test('a failing run with showOnlyFailures: failure and crash details, counts from the report block', () => {
    const lines = rooibosOutput({
        suites: [
            purchaseFlowSuite(SELECT_PLAN.storesPlan, SELECT_PLAN.rejectsExpiredOffer, {
                name: 'reads the catalog',
                status: 'CRASH',
                line: 40,
                message: "'Dot' Operator attempted with invalid BrightScript Component or interface reference."
            })
        ],
        ignored: 2
    });
    const parsed = parseRooibosOutputDetailed(lines);
    assert.ok(parsed.summary);
    assert.equal(parsed.summary.result, 'FAIL');
    assert.equal(parsed.summary.total, 3);
    assert.equal(parsed.summary.passed, 1);
    assert.equal(parsed.summary.failed, 1);
    assert.equal(parsed.summary.crashed, 1);
    assert.equal(parsed.summary.ignored, 2);
    assert.equal(parsed.timeMs, 42);
    assert.equal(parsed.finished, true);
    // Only the failures are listed (Rooibos' showOnlyFailures default).
    assert.deepEqual(parsed.summary.tests, [
        { name: 'PurchaseFlow > selectPlan > rejects an expired offer', status: 'FAIL' },
        { name: 'PurchaseFlow > selectPlan > reads the catalog', status: 'CRASH' }
    ]);
    const [fail, crash] = parsed.tests;
    assert.equal(fail.message, 'expected "expired" to equal "active"');
    assert.equal(fail.failedAt, 'file://pkg:/source/tests/PurchaseFlow.spec.brs:30');
    assert.equal(fail.location, 'file://pkg:/source/tests/PurchaseFlow.spec.brs:30');
    assert.match(crash.message ?? '', /Dot' Operator/);
    assert.deepEqual(crash.stack, ['pkg:/source/tests/PurchaseFlow.spec.brs(40)']);
});

test('long test names cut by Rooibos still parse, parameterized cases get their params', () => {
    const longName = 'when the Cleeng session token has expired it refreshes it before placing the order';
    const parsed = parseRooibosOutputDetailed(
        rooibosOutput({
            showOnlyFailures: false,
            suites: [
                {
                    name: 'Session',
                    file: 'pkg:/source/tests/Session.spec.brs',
                    groups: [
                        {
                            name: 'refresh',
                            tests: [
                                { name: longName, status: 'PASS' },
                                { name: 'accepts plan ids', status: 'PASS', params: ['["S1"]', '["S2"]'] }
                            ]
                        }
                    ]
                }
            ]
        })
    );
    assert.equal(parsed.summary?.total, 3);
    const names = parsed.tests.map((t) => t.test);
    assert.equal(names.length, 3);
    assert.ok(longName.startsWith(names[0].replace(/\.+$/, '')), names[0]);
    assert.deepEqual(names.slice(1), ['accepts plan ids ["S1"]', 'accepts plan ids ["S2"]']);
    // Every case carries the parameterized test's location.
    assert.deepEqual(
        parsed.tests.slice(1).map((t) => t.location),
        ['file://pkg:/source/tests/Session.spec.brs:1', 'file://pkg:/source/tests/Session.spec.brs:1']
    );
});

test('markers only: [Rooibos Result] decides, RESULT is the fallback, nothing means undefined', () => {
    assert.equal(parseRooibosOutput(['[Rooibos Result]: FAIL', '[Rooibos Shutdown]'])?.result, 'FAIL');
    assert.equal(parseRooibosOutput([' RESULT: Success'])?.result, 'PASS');
    assert.equal(parseRooibosOutput([' RESULT: Fail'])?.result, 'FAIL');
    assert.equal(parseRooibosOutput(['hello', 'Total: 3']), undefined);
    // The marker wins over the console reporter's line.
    assert.equal(parseRooibosOutput([' RESULT: Success', '[Rooibos Result]: FAIL'])?.result, 'FAIL');
});

test('app output that looks like counts does not override the report', () => {
    // Before the report: the report's own Total, parsed later, wins.
    const lines = ['Total: 99', ...rooibosOutput(PASSING_RUN)];
    assert.equal(parseRooibosOutput(lines)?.total, 3);
    // After the report block: ignored.
    const after = [...rooibosOutput(PASSING_RUN).slice(0, -2), ' Total: 77', '[Rooibos Result]: PASS'];
    assert.equal(parseRooibosOutput(after)?.total, 3);
});

test('incremental parsing handles \\r\\n line endings and reports finished only at shutdown', () => {
    const parser = new RooibosOutputParser();
    const lines = rooibosOutput(PASSING_RUN);
    for (const line of lines.slice(0, -1)) {
        parser.push(line + '\r');
    }
    assert.equal(parser.finished, false);
    assert.equal(parser.result().summary?.result, 'PASS');
    parser.push('[Rooibos Shutdown]\r');
    assert.equal(parser.finished, true);
});

test('JUnit XML: suites, failures, crashes, unlisted passes and run errors, escaped', () => {
    const parsed = parseRooibosOutputDetailed(
        rooibosOutput({
            suites: [
                {
                    name: 'A&B',
                    file: 'pkg:/source/tests/AB.spec.brs',
                    groups: [
                        {
                            name: 'g',
                            tests: [
                                { name: 'ok', status: 'PASS' },
                                { name: 'ok2', status: 'PASS' },
                                { name: 'bad <one>', status: 'FAIL', message: 'expected "a" got \u0001"b"' }
                            ]
                        }
                    ]
                }
            ]
        })
    );
    const xml = toJUnitXml({ name: 'device', parsed, durationMs: 1500, errors: [{ name: 'crash', message: 'Type Mismatch.', details: ['pkg:/source/main.brs(3)'] }] });
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="device" tests="4" failures="1" errors="1" skipped="0" time="1.500">/);
    assert.match(xml, /<testsuite name="A&amp;B" tests="1" failures="1" errors="0"/);
    assert.match(xml, /<testcase classname="A&amp;B" name="g &gt; bad &lt;one&gt;"/);
    assert.match(xml, /<failure type="FAIL" message="expected &quot;a&quot; got &quot;b&quot;">/);
    assert.match(xml, /name="\(2 passing tests not listed by Rooibos\)"/);
    assert.match(xml, /<error type="crash" message="Type Mismatch.">Type Mismatch.\npkg:\/source\/main.brs\(3\)<\/error>/);
    assert.doesNotMatch(xml, /\u0001/);
    assert.match(xml, /<property name="rooibos.result" value="FAIL"\/>/);
});
