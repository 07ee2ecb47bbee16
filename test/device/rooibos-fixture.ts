/**
 * Produces console output the way rooibos-roku 5.x's ConsoleTestReporter and TestRunner print it
 * (same line shapes, same `fillText` padding and truncation), for tests of the parser and of
 * `npm run test:device` with a fake runner.
 */

export interface FixtureTest {
    name: string;
    status: 'PASS' | 'FAIL' | 'CRASH';
    line?: number;
    message?: string;
    /** Parameterized cases: params JSON per case (status applies to each case). */
    params?: string[];
}
export interface FixtureGroup {
    name: string;
    tests: FixtureTest[];
}
export interface FixtureSuite {
    name: string;
    file: string;
    line?: number;
    groups: FixtureGroup[];
}
export interface FixtureRun {
    suites: FixtureSuite[];
    /** Rooibos' default is true: with any failure, only failing tests are listed. */
    showOnlyFailures?: boolean;
    ignored?: number;
    /** Print the streaming per-test lines (`>>>>>> It:`) that precede the report. Default true. */
    streaming?: boolean;
}

/** rooibos.common.fillText */
export function fillText(text: string, fillChar: string, numChars: number): string {
    if (text.length >= numChars) {
        return text.slice(0, numChars - 5) + '...' + fillChar + fillChar;
    }
    let out = text;
    for (let i = 0; i <= numChars - text.length - 1; i++) {
        out += fillChar;
    }
    return out;
}

export function rooibosOutput(run: FixtureRun): string[] {
    const lines: string[] = [];
    const print = (text = '') => lines.push(' ' + text); // ConsoleTestReporter.printLine: `? " " ; text`
    const all = run.suites.flatMap((s) => s.groups.flatMap((g) => g.tests));
    const cases = (t: FixtureTest) => (t.params ? t.params.length : 1);
    const count = (status: FixtureTest['status']) => all.filter((t) => t.status === status).reduce((n, t) => n + cases(t), 0);
    const passed = count('PASS');
    const failed = count('FAIL');
    const crashed = count('CRASH');
    const hasFailures = failed + crashed > 0;
    const showOnlyFailures = run.showOnlyFailures ?? true;

    if (run.streaming ?? true) {
        for (const suite of run.suites) {
            lines.push('');
            lines.push(fillText('> SUITE: ' + suite.name, '>', 80));
            for (const group of suite.groups) {
                lines.push('');
                lines.push(fillText('>>>> Describe: ' + group.name, '>', 80));
                lines.push(`  Location: file://${suite.file}:${suite.line ?? 1}`);
                lines.push('');
                for (const t of group.tests) {
                    lines.push('');
                    lines.push(fillText('>>>>>> It: ' + t.name, '>', 80));
                    lines.push(`  Location: file://${suite.file}:${t.line ?? 1}`);
                    lines.push('');
                    lines.push(fillText('<<<< END It: ' + t.name + ' (' + t.status + ') ', '<', 80));
                }
            }
        }
    }

    print();
    print('[START TEST REPORT]');
    print();
    for (const suite of run.suites) {
        const suiteFails = suite.groups.some((g) => g.tests.some((t) => t.status !== 'PASS'));
        if (hasFailures && showOnlyFailures && !suiteFails) {
            continue;
        }
        print(' ' + suite.name + ' file://' + suite.file + ':' + (suite.line ?? 1));
        for (const group of suite.groups) {
            let groupPrinted = false;
            for (const t of group.tests) {
                if (hasFailures && showOnlyFailures && t.status === 'PASS') {
                    continue;
                }
                if (!groupPrinted) {
                    print(' |-' + group.name);
                    groupPrinted = true;
                }
                const testChar = t.status === 'FAIL' ? '-' : '|';
                const location = `file://${suite.file}:${t.line ?? 1}`;
                if (!t.params) {
                    print(fillText(' ' + testChar + ' |--' + t.name + ' : ', '.', 60) + t.status);
                    print(' |   |--Test : ' + location);
                } else {
                    // Rooibos names parameterized tests `<name> <index>` and cuts a trailing "0".
                    let name = `${t.name} 0`;
                    if (name.length > 1 && name.endsWith('0')) {
                        name = name.slice(0, -1);
                    }
                    print(' ' + testChar + ' |--' + name + ' : ');
                    print(' |   |--Test : ' + location);
                    for (const p of t.params) {
                        print(fillText(' ' + testChar + '   |--' + p + ' : ', '.', 60) + t.status);
                    }
                }
                if (t.status === 'CRASH') {
                    print(' |   |--Crashed at: ' + location);
                    print(' |   |');
                    print(' |   |--Message: ' + (t.message ?? 'Type Mismatch.'));
                    print(' |   |--Stack trace: ');
                    print(' |     ' + suite.file + '(' + (t.line ?? 1) + ')');
                    print(' | ');
                } else if (t.status === 'FAIL') {
                    print(' |   |--Failed at: ' + location);
                    print(' |   |--Error Message: ' + (t.message ?? 'expected true to be false'));
                    print(' | ');
                }
            }
            if (groupPrinted) {
                print(' |');
            }
        }
    }
    print();
    print('Total: ' + (passed + failed + crashed));
    print('  Passed: ' + passed);
    print('  Crashed: ' + crashed);
    print('  Failed: ' + failed);
    print('  Ignored: ' + (run.ignored ?? 0));
    print('  Time: 42ms');
    print();
    print();
    print('RESULT: ' + (hasFailures ? 'Fail' : 'Success'));
    print();
    print('[END TEST REPORT]');
    print();
    lines.push('[Rooibos Result]: ' + (hasFailures ? 'FAIL' : 'PASS'));
    lines.push('[Rooibos Shutdown]');
    return lines;
}
