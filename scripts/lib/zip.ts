/**
 * Zipping a channel folder. Kept apart from the simulator (which loads playwright-core) so the
 * production build never imports the simulator module.
 */
import * as fs from 'fs';
import JSZip from 'jszip';
import * as path from 'path';

/** Zips a channel folder (manifest at its root) in memory. */
export async function zipFolder(dir: string): Promise<Buffer> {
    const zip = new JSZip();
    const walk = (rel: string): void => {
        for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const relPath = rel ? `${rel}/${entry.name}` : entry.name;
            if (entry.isDirectory()) {
                walk(relPath);
            } else {
                zip.file(relPath, fs.readFileSync(path.join(dir, relPath)));
            }
        }
    };
    walk('');
    return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}
