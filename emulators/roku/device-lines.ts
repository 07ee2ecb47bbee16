/**
 * Turns the simulator's console lines into the forms a Roku prints, so tools written for devices
 * (roku-debug, our scripts) read them the same way.
 *
 *   simulator: [error] pkg:/source/main.brs(4,10-13): Type Mismatch.
 *   device:    Type Mismatch. (runtime error &h18) in pkg:/source/main.brs(4)
 *
 *   simulator: [error] pkg:/source/main.brs(2,8-9): Syntax Error. (compile error &h2) Found unexpected token '='
 *   device:    --- Syntax Error. (compile error &h02) in pkg:/source/main.brs(2)
 */

/** BrightScript runtime error codes for the messages a channel most often dies with. */
const RUNTIME_ERROR_CODES: [RegExp, string][] = [
    [/^Type Mismatch/i, '&h18'],
    [/^Divide by Zero/i, '&h14'],
    [/^'Dot' Operator attempted with invalid/i, '&hec'],
    [/^Member function not found/i, '&hf4'],
    [/^Use of uninitialized variable/i, '&he9'],
    [/^Function Call Operator \( \) attempted on non-function/i, '&he0'],
    [/^Array operation attempted on variable not DIM'd/i, '&he7']
];

export function runtimeErrorCode(message: string): string | undefined {
    return RUNTIME_ERROR_CODES.find(([re]) => re.test(message))?.[1];
}

/** Returns the device's lines for one simulator line (usually the same line). */
export function toDeviceLines(line: string): string[] {
    const err = /^\[error\]\s+(pkg:\/[^(]+)\((\d+)(?:,[^)]*)?\):\s*(.*)$/.exec(line);
    if (err) {
        const [, file, lineNo, rest] = err;
        const compile = /^(.*?)\s*\(compile error &h([0-9a-f]+)\)\s*(.*)$/i.exec(rest);
        if (compile) {
            const code = compile[2].padStart(2, '0');
            const out = [`--- ${compile[1]} (compile error &h${code}) in ${file}(${lineNo})`];
            if (compile[3]) {
                out.push(`      ${compile[3]}`);
            }
            return out;
        }
        const code = runtimeErrorCode(rest);
        return [
            'BrightScript Micro Debugger.',
            'Enter any BrightScript statement, debug commands, or HELP.',
            '',
            `${rest} (runtime error${code ? ' ' + code : ''}) in ${file}(${lineNo})`
        ];
    }
    if (line === 'BackTrace:') {
        return ['Backtrace:'];
    }
    // Beacons print without the simulator's tag: `11-22 07:26:53.198 [beacon.report] |AppExitComplete`.
    const beacon = /^\[beacon\]\s+(\d\d-\d\d \d\d:\d\d:\d\d\.\d+ .*)$/.exec(line);
    if (beacon) {
        return [beacon[1]];
    }
    return [line];
}
