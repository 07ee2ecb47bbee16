/**
 * Parser for the console output of a Rooibos test run (device console or simulator), and a JUnit
 * XML writer for the result.
 *
 * What Rooibos prints (console reporter, rooibos-roku 5.x):
 *
 *   [START TEST REPORT]
 *   <suite name> file://pkg:/source/tests/Foo.spec.brs:3
 *    |-<group name>
 *    | |--<test name> : .........................PASS
 *    |   |--Test : file://pkg:/…:12
 *    - |--<failing test> : ......................FAIL
 *    |   |--Failed at: file://pkg:/…:20
 *    |   |--Error Message: expected 1 to equal 2
 *   Total: 3
 *     Passed: 2  Crashed: 0  Failed: 1  Ignored: 0  Time: 12ms   (one per line)
 *   RESULT: Fail
 *   [END TEST REPORT]
 *   [Rooibos Result]: FAIL
 *   [Rooibos Shutdown]
 *
 * Names longer than the reporter's line width are cut by Rooibos itself (`name tha…..PASS`); the
 * parser keeps what is printed. With `showOnlyFailures` (the default) and at least one failure,
 * only failing tests are listed; the counts still cover every test.
 */
import type { RooibosSummary } from './simulator-types';

export type RooibosTestStatus = 'PASS' | 'FAIL' | 'CRASH';

/** One test as listed in the report, with its failure details when it failed or crashed. */
export interface RooibosTestDetail {
    suite: string;
    group: string;
    /** The test's own name (for a parameterized case: `<test name> <params JSON>`). */
    test: string;
    /** `suite > group > test` (the name used in RooibosSummary.tests). */
    name: string;
    status: RooibosTestStatus;
    /** `file://pkg:/…:line` where the test is declared. */
    location?: string;
    /** Where it failed or crashed. */
    failedAt?: string;
    /** The assertion message or the crash message. */
    message?: string;
    /** Crash stack trace lines. */
    stack: string[];
}

export interface RooibosParseResult {
    /** Undefined until Rooibos printed its result (`[Rooibos Result]` or ` RESULT:`). */
    summary?: RooibosSummary;
    tests: RooibosTestDetail[];
    /** `Time: …ms` from the report. */
    timeMs?: number;
    /** `[Rooibos Shutdown]` was printed: the run is over. */
    finished: boolean;
    /** A report block (`[START TEST REPORT]`) was seen. */
    sawReport: boolean;
}

const DETAIL_PREFIXES = ['Test :', 'Failed at:', 'Crashed at:', 'Error Message:', 'Message:', 'Stack trace:', 'Param Line:'];

/** Builds the name used in RooibosSummary.tests. */
export function testDisplayName(suite: string, group: string, test: string): string {
    return [suite, group, test].filter((part) => part.length > 0).join(' > ');
}

/**
 * Incremental parser: feed it console lines as they arrive (`push`), read `result()` at any time.
 * Lines may carry a trailing `\r`; chunks must already be split into lines.
 */
export class RooibosOutputParser {
    private suite = '';
    private group = '';
    private paramParent: string | undefined;
    private paramLocation: string | undefined;
    private inReport = false;
    private sawReport = false;
    private inStack = false;
    private readonly tests: RooibosTestDetail[] = [];
    private readonly counts: Partial<Record<'total' | 'passed' | 'failed' | 'crashed' | 'ignored' | 'time', number>> = {};
    private consoleResult: 'PASS' | 'FAIL' | undefined;
    private markerResult: 'PASS' | 'FAIL' | undefined;
    private shutdown = false;

    /** Feed one console line. */
    push(rawLine: string): void {
        const line = rawLine.replace(/\r$/, '').replace(/\s+$/, '');
        const trimmed = line.trim();

        let m = /\[Rooibos Result\]:\s*(PASS|FAIL)\b/i.exec(line);
        if (m) {
            this.markerResult = m[1].toUpperCase() as 'PASS' | 'FAIL';
            return;
        }
        if (/\[Rooibos Shutdown\]/i.test(line)) {
            this.shutdown = true;
            return;
        }
        if (/\[START TEST REPORT\]/.test(line)) {
            this.inReport = true;
            this.sawReport = true;
            this.suite = '';
            this.group = '';
            return;
        }
        if (/\[END TEST REPORT\]/.test(line)) {
            this.inReport = false;
            return;
        }
        // The counts and RESULT lines are only trusted inside the report block when there is one;
        // before any report was seen we accept them anywhere (partial or reformatted output).
        const countsAllowed = this.inReport || !this.sawReport;
        if (countsAllowed) {
            m = /^(Total|Passed|Crashed|Failed|Ignored|Time):\s*(\d+)(?:ms)?$/.exec(trimmed);
            if (m) {
                const key = m[1].toLowerCase() as 'total' | 'passed' | 'failed' | 'crashed' | 'ignored' | 'time';
                this.counts[key] = Number(m[2]);
                this.inStack = false;
                return;
            }
            m = /^RESULT:\s*(Success|Fail)\b/i.exec(trimmed);
            if (m) {
                this.consoleResult = m[1].toLowerCase() === 'success' ? 'PASS' : 'FAIL';
                return;
            }
        }

        // A test result line: ` | |--name : ......PASS` / ` - |--name : ....FAIL` / param case ` |   |--{…} : ...PASS`.
        m = /^\s*([|-])(\s+)\|--(.*?)(?: : )?\.{2,}(PASS|FAIL|CRASH|SKIP)(?:\s+\((\d+)ms\))?$/.exec(line);
        if (m && !DETAIL_PREFIXES.some((p) => m![3].startsWith(p))) {
            this.inStack = false;
            const status = m[4];
            if (status === 'SKIP') {
                return;
            }
            const isParamCase = m[2].length >= 3 && this.paramParent !== undefined;
            const ownName = isParamCase ? `${this.paramParent} ${m[3].trim()}` : m[3].trim();
            if (!isParamCase) {
                this.paramParent = undefined;
                this.paramLocation = undefined;
            }
            this.tests.push({
                suite: this.suite,
                group: this.group,
                test: ownName,
                name: testDisplayName(this.suite, this.group, ownName),
                status: status as RooibosTestStatus,
                location: isParamCase ? this.paramLocation : undefined,
                stack: []
            });
            return;
        }
        // The header line of a parameterized test: ` | |--name : ` with no status.
        m = /^\s*[|-]\s\|--(.*?)\s*:$/.exec(line);
        if (m && !DETAIL_PREFIXES.some((p) => m![1].startsWith(p))) {
            this.paramParent = m[1].trim();
            this.paramLocation = undefined;
            this.inStack = false;
            return;
        }
        // Detail lines under a test.
        m = /^\s*\|\s+\|--(Test|Failed at|Crashed at|Error Message|Message|Stack trace|Param Line)\s?:\s?(.*)$/.exec(line);
        if (m) {
            const last = this.tests[this.tests.length - 1];
            const kind = m[1];
            const value = m[2].trim();
            this.inStack = kind === 'Stack trace';
            if (kind === 'Test') {
                // The `Test :` line follows the test's result line, or a parameterized test's header line.
                if (this.paramParent !== undefined) {
                    this.paramLocation = value;
                } else if (last && last.location === undefined) {
                    last.location = value;
                }
                return;
            }
            if (!last) {
                return;
            }
            if (kind === 'Failed at' || kind === 'Crashed at') {
                last.failedAt = value;
            } else if (kind === 'Error Message' || kind === 'Message') {
                last.message = value;
            }
            return;
        }
        if (this.inStack) {
            const s = /^\s*\|\s{3,}(\S.*)$/.exec(line);
            if (s && this.tests.length > 0) {
                this.tests[this.tests.length - 1].stack.push(s[1]);
                return;
            }
            this.inStack = false;
        }
        // A group line: ` |-group name`.
        m = /^\s*\|-(?!-)(.+)$/.exec(line);
        if (m && this.inReport) {
            this.group = m[1].trim();
            this.paramParent = undefined;
            return;
        }
        // A suite line: ` SuiteName file://pkg:/…:3` (inside the report; `Location:` lines are streaming output).
        m = /^\s*([^|\s-].*?)\s+file:\/\/(\S+)$/.exec(line);
        if (m && this.inReport && !/^Location:/.test(m[1])) {
            this.suite = m[1];
            this.group = '';
            this.paramParent = undefined;
            return;
        }
    }

    /** Feed a chunk of text holding whole lines. */
    pushText(text: string): void {
        for (const line of text.split(/\r?\n/)) {
            this.push(line);
        }
    }

    /** True once `[Rooibos Shutdown]` was printed. */
    get finished(): boolean {
        return this.shutdown;
    }

    result(): RooibosParseResult {
        const outcome = this.markerResult ?? this.consoleResult;
        let summary: RooibosSummary | undefined;
        if (outcome) {
            const listed = (status: RooibosTestStatus) => this.tests.filter((t) => t.status === status).length;
            const failed = this.counts.failed ?? listed('FAIL');
            const crashed = this.counts.crashed ?? listed('CRASH');
            const passed = this.counts.passed ?? listed('PASS');
            summary = {
                total: this.counts.total ?? passed + failed + crashed,
                passed,
                failed,
                crashed,
                ignored: this.counts.ignored ?? 0,
                result: outcome,
                tests: this.tests.map((t) => ({ name: t.name, status: t.status }))
            };
        }
        return {
            summary,
            tests: this.tests.map((t) => ({ ...t, stack: [...t.stack] })),
            timeMs: this.counts.time,
            finished: this.shutdown,
            sawReport: this.sawReport
        };
    }
}

/** Parse a whole Rooibos run (text or lines). */
export function parseRooibosOutputDetailed(output: string | readonly string[]): RooibosParseResult {
    const parser = new RooibosOutputParser();
    const lines = typeof output === 'string' ? output.split(/\r?\n/) : output;
    for (const line of lines) {
        parser.push(line);
    }
    return parser.result();
}

/** Parse a whole Rooibos run; undefined when Rooibos never printed a result. */
export function parseRooibosOutput(output: string | readonly string[]): RooibosSummary | undefined {
    return parseRooibosOutputDetailed(output).summary;
}

// ---------------------------------------------------------------------------------------------
// JUnit XML

/** A failure of the run as a whole (crash outside a test, compile error, timeout …). */
export interface RunError {
    /** Short name shown as the test case name, e.g. `compile`, `crash`, `timeout`. */
    name: string;
    message: string;
    details?: string[];
}

export interface JUnitOptions {
    /** Name of the outer <testsuites> element (e.g. `device`). */
    name: string;
    parsed?: RooibosParseResult;
    /** Wall time of the run in ms. */
    durationMs?: number;
    /** Errors of the run itself; each becomes a test case with an <error>. */
    errors?: RunError[];
    /** Extra properties written in <properties> (e.g. host, zip). Never pass secrets. */
    properties?: Record<string, string>;
}

/** XML 1.0 forbids most control characters even when escaped; drop them. */
function xmlSafe(text: string): string {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '');
}

export function xmlEscape(text: string): string {
    return xmlSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function seconds(ms: number | undefined): string {
    return ((ms ?? 0) / 1000).toFixed(3);
}

/**
 * JUnit XML for a Rooibos run. Tests are grouped by suite. When Rooibos only listed failures (its
 * `showOnlyFailures` default), the passing tests it did not list are summarised in one
 * `(N passing tests not listed by Rooibos)` test case so the totals stay right.
 */
export function toJUnitXml(opts: JUnitOptions): string {
    const tests = opts.parsed?.tests ?? [];
    const summary = opts.parsed?.summary;
    const errors = opts.errors ?? [];
    const out: string[] = [];
    const suites = new Map<string, RooibosTestDetail[]>();
    for (const t of tests) {
        const key = t.suite || '(no suite)';
        const list = suites.get(key) ?? [];
        list.push(t);
        suites.set(key, list);
    }
    const listedPass = tests.filter((t) => t.status === 'PASS').length;
    const unlistedPass = summary ? Math.max(0, summary.passed - listedPass) : 0;

    const totalTests = (summary ? Math.max(summary.total, tests.length) : tests.length) + errors.length;
    const totalFailures = tests.filter((t) => t.status === 'FAIL').length;
    const totalErrors = tests.filter((t) => t.status === 'CRASH').length + errors.length;
    const totalSkipped = summary?.ignored ?? 0;

    out.push('<?xml version="1.0" encoding="UTF-8"?>');
    out.push(
        `<testsuites name="${xmlEscape(opts.name)}" tests="${totalTests}" failures="${totalFailures}" errors="${totalErrors}" skipped="${totalSkipped}" time="${seconds(opts.durationMs)}">`
    );
    const props = { ...(opts.properties ?? {}) };
    if (summary) {
        props['rooibos.result'] = summary.result;
        props['rooibos.total'] = String(summary.total);
        props['rooibos.passed'] = String(summary.passed);
        props['rooibos.failed'] = String(summary.failed);
        props['rooibos.crashed'] = String(summary.crashed);
        props['rooibos.ignored'] = String(summary.ignored);
    }
    const writeProps = (indent: string) => {
        const keys = Object.keys(props);
        if (keys.length === 0) {
            return;
        }
        out.push(`${indent}<properties>`);
        for (const key of keys) {
            out.push(`${indent}  <property name="${xmlEscape(key)}" value="${xmlEscape(props[key])}"/>`);
        }
        out.push(`${indent}</properties>`);
    };

    for (const [suiteName, list] of suites) {
        const failures = list.filter((t) => t.status === 'FAIL').length;
        const crashes = list.filter((t) => t.status === 'CRASH').length;
        out.push(`  <testsuite name="${xmlEscape(suiteName)}" tests="${list.length}" failures="${failures}" errors="${crashes}" skipped="0">`);
        for (const t of list) {
            const caseName = t.group ? `${t.group} > ${t.test}` : t.test;
            const file = t.location ? ` file="${xmlEscape(t.location)}"` : '';
            if (t.status === 'PASS') {
                out.push(`    <testcase classname="${xmlEscape(suiteName)}" name="${xmlEscape(caseName)}"${file}/>`);
                continue;
            }
            const tag = t.status === 'CRASH' ? 'error' : 'failure';
            const message = t.message ?? (t.status === 'CRASH' ? 'crashed' : 'failed');
            const body = [message, t.failedAt ? `at ${t.failedAt}` : '', ...t.stack].filter((x) => x).join('\n');
            out.push(`    <testcase classname="${xmlEscape(suiteName)}" name="${xmlEscape(caseName)}"${file}>`);
            out.push(`      <${tag} type="${t.status}" message="${xmlEscape(message)}">${xmlEscape(body)}</${tag}>`);
            out.push('    </testcase>');
        }
        out.push('  </testsuite>');
    }
    // The run itself: its properties, the passing tests Rooibos did not list, and run-level errors.
    const runCases = (unlistedPass > 0 ? 1 : 0) + errors.length;
    out.push(
        `  <testsuite name="${xmlEscape(opts.name)}" tests="${runCases}" failures="0" errors="${errors.length}" skipped="${totalSkipped}" time="${seconds(opts.durationMs)}">`
    );
    writeProps('    ');
    if (unlistedPass > 0) {
        out.push(`    <testcase classname="${xmlEscape(opts.name)}" name="${xmlEscape(`(${unlistedPass} passing tests not listed by Rooibos)`)}"/>`);
    }
    for (const e of errors) {
        out.push(`    <testcase classname="${xmlEscape(opts.name)}" name="${xmlEscape(e.name)}">`);
        out.push(`      <error type="${xmlEscape(e.name)}" message="${xmlEscape(e.message)}">${xmlEscape([e.message, ...(e.details ?? [])].join('\n'))}</error>`);
        out.push('    </testcase>');
    }
    out.push('  </testsuite>');
    out.push('</testsuites>');
    return out.join('\n') + '\n';
}
