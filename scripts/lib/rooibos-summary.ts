import type { RooibosSummary } from './simulator-types';

/** Reads Rooibos' console output. Undefined when no Rooibos result was printed. */
export function summarizeRooibos(lines: string[]): RooibosSummary | undefined {
    const resultLine = lines.find((l) => /\[Rooibos Result\]:\s*(PASS|FAIL)/.test(l));
    if (!resultLine) {
        return undefined;
    }
    const count = (label: string): number => {
        for (const line of lines) {
            const m = new RegExp(`^\\s*${label}:\\s*(\\d+)`).exec(line);
            if (m) {
                return Number(m[1]);
            }
        }
        return 0;
    };
    const tests: RooibosSummary['tests'] = [];
    for (const line of lines) {
        const m = /^\s*(.*?)\s*:?\s*\.{2,}\s*(PASS|FAIL|CRASH)\b/.exec(line);
        if (m) {
            tests.push({ name: m[1], status: m[2] as 'PASS' | 'FAIL' | 'CRASH' });
        }
    }
    return {
        total: count('Total'),
        passed: count('Passed'),
        failed: count('Failed'),
        crashed: count('Crashed'),
        ignored: count('Ignored'),
        result: /PASS/.test(/\[Rooibos Result\]:\s*(PASS|FAIL)/.exec(resultLine)?.[1] ?? '') ? 'PASS' : 'FAIL',
        tests
    };
}
