/**
 * What a Roku checks when a channel zip is installed: the zip opens, it has a manifest, and every
 * BrightScript and SceneGraph XML file parses. Parsing is done with brighterscript's own parser (the
 * same compiler the build uses); only parse errors count, as on a device, where unknown functions
 * and the like are runtime errors.
 *
 * The console lines follow the device's format (`--- Syntax Error. (compile error &h02) in
 * pkg:/source/main.brs(3)`), which is what roku-debug and our scripts read.
 */
import { DiagnosticSeverity, Program } from 'brighterscript';
import JSZip from 'jszip';

export interface CompileCheck {
    ok: boolean;
    /** `unzip` when the archive is not a zip, `manifest` when it has none, `compile` for parse errors. */
    failure?: 'unzip' | 'manifest' | 'compile';
    /** The manifest's key=value pairs (empty when there is none). */
    manifest: Record<string, string>;
    /** Lines the device prints on its console while compiling (including any errors). */
    consoleLines: string[];
    /** One line per error: `pkg:/path(line): message`. */
    errors: string[];
    /** Files of the zip (path -> bytes). */
    files: Map<string, Buffer>;
}

/**
 * A manifest's key=value pairs, as Roku documents the file: one `key=value` per line, `#` starts
 * a comment line. The fake device reads it itself; it never borrows the tooling it stands in front of.
 */
export function parseManifest(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of text.split(/\r?\n/)) {
        const m = /^\s*([A-Za-z0-9_.-]+)\s*=(.*)$/.exec(line);
        if (m && !line.trim().startsWith('#')) {
            out[m[1]!] = m[2]!.trim();
        }
    }
    return out;
}

export async function readZip(zip: Buffer): Promise<Map<string, Buffer>> {
    const archive = await JSZip.loadAsync(zip);
    const files = new Map<string, Buffer>();
    for (const entry of Object.values(archive.files)) {
        if (!entry.dir) {
            files.set(entry.name.replace(/^\/+/, ''), await entry.async('nodebuffer'));
        }
    }
    return files;
}

export async function compileCheck(zip: Buffer): Promise<CompileCheck> {
    let files: Map<string, Buffer>;
    try {
        files = await readZip(zip);
    } catch {
        return {
            ok: false,
            failure: 'unzip',
            manifest: {},
            files: new Map(),
            errors: ['the archive is not a valid zip'],
            consoleLines: ['Install Failure: Unzip failed. Invalid or corrupt zip archive.']
        };
    }
    const manifestBytes = files.get('manifest');
    if (!manifestBytes) {
        return {
            ok: false,
            failure: 'manifest',
            manifest: {},
            files,
            errors: ['pkg:/manifest: No manifest. Invalid package.'],
            consoleLines: ['------->No manifest. Invalid package.']
        };
    }
    const manifest = parseManifest(manifestBytes.toString('utf8'));
    const title = manifest.title ?? 'dev';
    const consoleLines = [`------ Compiling dev '${title}' ------`];

    const program = new Program({ rootDir: '/fake-roku/pkg', logLevel: 'error' as never });
    const errors: string[] = [];
    const perFile = new Map<string, { line: number; message: string }[]>();
    try {
        const sources = [...files.keys()].filter((p) => /^(source|components)\/.*\.(brs|xml)$/i.test(p)).sort();
        for (const rel of sources) {
            program.setFile(rel, files.get(rel)!.toString('utf8'));
        }
        // (bsc's diagnostic type extends vscode-languageserver's, whose typings are not resolvable here)
        const diagnostics = program.getDiagnostics() as unknown as {
            severity?: number;
            message: string;
            range: { start: { line: number } };
            file?: { pkgPath: string };
        }[];
        for (const d of diagnostics) {
            if (d.severity !== DiagnosticSeverity.Error || !d.file) {
                continue;
            }
            const pkgPath = 'pkg:/' + d.file.pkgPath.replace(/\\/g, '/');
            const list = perFile.get(pkgPath) ?? [];
            list.push({ line: d.range.start.line + 1, message: d.message });
            perFile.set(pkgPath, list);
        }
    } finally {
        program.dispose();
    }
    if (perFile.size === 0) {
        return { ok: true, manifest, files, errors, consoleLines };
    }
    consoleLines.push('=================================================================');
    for (const [pkgPath, list] of [...perFile].sort((a, b) => a[0].localeCompare(b[0]))) {
        list.sort((a, b) => a.line - b.line);
        const plural = list.length === 1 ? '' : 's';
        if (/\.xml$/i.test(pkgPath)) {
            consoleLines.push(`-------> Error parsing XML component ${pkgPath}`);
            consoleLines.push(`Found ${list.length} parse error${plural} in XML file ${pkgPath}`);
            for (const e of list) {
                consoleLines.push(`--- Line ${e.line}: ${e.message}`);
                errors.push(`${pkgPath}(${e.line}): ${e.message}`);
            }
        } else {
            consoleLines.push(`Found ${list.length} compile error${plural} in file tmp/plugin/FAKEROKU/${pkgPath}`);
            for (const e of list) {
                consoleLines.push(`--- Syntax Error. (compile error &h02) in ${pkgPath}(${e.line})`);
                consoleLines.push(`      ${e.message}`);
                errors.push(`${pkgPath}(${e.line}): Syntax Error. ${e.message}`);
            }
        }
    }
    consoleLines.push('=================================================================');
    consoleLines.push(`*** ERROR compiling dev '${title}': Compilation Failed.`);
    return { ok: false, failure: 'compile', manifest, files, errors, consoleLines };
}
