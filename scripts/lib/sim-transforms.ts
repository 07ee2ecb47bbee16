import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/**
 * Rewrites a staged test build so it runs in brs-engine 2.2 the way it runs on a Roku.
 * Applied to simulator test builds only; the specs and the device build stay unchanged.
 * Each transform works around one documented engine difference.
 */
export interface Transform {
    name: string;
    /** Files (path relative to the staging folder) this transform applies to. */
    applies: (relPath: string) => boolean;
    apply: (text: string, relPath: string) => string;
}

const ANON_START = /(^|[^\w.$])(sub|function)\s*\(/i;
const NAMED_START = /^\s*(sub|function)\s+[\w]+\s*\(/i;
const END_FUNCTION = /^(\s*)end\s+(sub|function)\b(.*)$/i;

/** Index just past the parenthesis that closes the one at `open`, or -1. */
function closingParen(text: string, open: number): number {
    let depth = 0;
    let inString = false;
    for (let i = open; i < text.length; i++) {
        const c = text[i];
        if (c === '"') {
            inString = !inString;
        } else if (!inString && c === '(') {
            depth++;
        } else if (!inString && c === ')') {
            depth--;
            if (depth === 0) {
                return i + 1;
            }
        }
    }
    return -1;
}

/**
 * Moves every multi-line anonymous function to a named function at the end of the file and
 * puts its name where it stood. BrightScript functions have no closures, so this changes
 * nothing on a device; in brs-engine it lets observeField callbacks passed by `toStr()` name
 * resolve (the engine does not resolve `$anon_N` names).
 */
export function hoistAnonymousFunctions(text: string, prefix: string): string {
    const lines = text.split('\n');
    interface Frame {
        name: string;
        head: string; // the text before the anonymous function on its first line
        signature: string;
        keyword: string;
        body: string[];
    }
    const root: string[] = [];
    const hoisted: string[] = [];
    const stack: Frame[] = [];
    let counter = 0;
    const emit = (line: string): void => {
        (stack.length > 0 ? stack[stack.length - 1].body : root).push(line);
    };
    /** Opens a frame when `code` starts a multi-line anonymous function; true if it did. */
    const tryOpen = (code: string): boolean => {
        const match = NAMED_START.test(code) || /^\s*end\s/i.test(code) ? null : ANON_START.exec(code);
        if (!match) {
            return false;
        }
        const start = match.index + match[1].length;
        const open = code.indexOf('(', start);
        const close = closingParen(code, open);
        const rest = close > 0 ? code.slice(close) : '';
        // Only hoist when the body starts on the next line (signature + optional `as type`).
        if (close < 0 || !/^\s*(as\s+\w+)?\s*$/i.test(rest)) {
            return false;
        }
        counter++;
        stack.push({
            name: `${prefix}_anon${counter}`,
            head: code.slice(0, start),
            signature: code.slice(open),
            keyword: match[2].toLowerCase(),
            body: []
        });
        return true;
    };
    for (const line of lines) {
        const code = line.replace(/'.*$/, '');
        const end = END_FUNCTION.exec(code);
        if (end && stack.length > 0) {
            const frame = stack.pop() as Frame;
            hoisted.push(`${frame.keyword} ${frame.name}${frame.signature}`, ...frame.body, `end ${frame.keyword}`, '');
            const combined = `${frame.head}${frame.name}${end[3]}`;
            if (!tryOpen(combined)) {
                emit(combined);
            }
            continue;
        }
        if (!tryOpen(code)) {
            emit(line);
        }
    }
    if (stack.length > 0 || counter === 0) {
        return text; // unbalanced or nothing to do: leave the file as it was
    }
    return [...root, '', ...hoisted].join('\n');
}

export const SIMULATOR_TRANSFORMS: Transform[] = [
    {
        name: 'hoist-anonymous-functions',
        applies: (p) => p.endsWith('.brs'),
        apply: (text, relPath) => hoistAnonymousFunctions(text, `sim_${createHash('md5').update(relPath).digest('hex').slice(0, 8)}`)
    },
    {
        // Rooibos waits for a node suite's result on a fresh port; brs-engine only advances the
        // render thread while main waits on the roSGScreen's port, so wait on that one instead.
        name: 'rooibos-node-test-port',
        applies: (p) => p.endsWith('rooibos/TestRunner.brs'),
        apply: (text) =>
            text.replace(
                /port = CreateObject\("roMessagePort"\)(\s*\n\s*node\.observeField\("rooibosTestResult", port\))/,
                'port = m.nodeContext.port$1'
            )
    },
    {
        // brs-engine raises "Syntax Error." on `a.b.ifInterface.method()` (an interface call
        // after two dotted gets). `a["b"].ifInterface.method()` means the same on a device.
        name: 'interface-call-after-dotted-get',
        applies: (p) => p.endsWith('.brs'),
        apply: (text) => text.replace(/\b([A-Za-z_][\w]*)\.([A-Za-z_][\w]*)\.(if[A-Z][\w]*)\./g, '$1["$2"].$3.')
    }
];

export function applySimulatorTransforms(stagingDir: string, transforms: Transform[] = SIMULATOR_TRANSFORMS): { file: string; transform: string }[] {
    const changed: { file: string; transform: string }[] = [];
    const walk = (rel: string): void => {
        for (const entry of fs.readdirSync(path.join(stagingDir, rel), { withFileTypes: true })) {
            const relPath = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) {
                walk(relPath);
                continue;
            }
            const applicable = transforms.filter((t) => t.applies(relPath));
            if (applicable.length === 0) {
                continue;
            }
            const file = path.join(stagingDir, relPath);
            let text = fs.readFileSync(file, 'utf8');
            for (const t of applicable) {
                const next = t.apply(text, relPath);
                if (next !== text) {
                    changed.push({ file: relPath, transform: t.name });
                    text = next;
                }
            }
            fs.writeFileSync(file, text);
        }
    };
    walk('');
    return changed;
}
