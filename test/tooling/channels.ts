import * as fs from 'fs';
import { after } from 'node:test';
import * as path from 'path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export const MANIFEST = 'title=Throwaway\nmajor_version=1\nminor_version=0\nbuild_version=0\nui_resolutions=fhd\n';

/** Writes a throwaway channel (or bsc project) under out/tmp and returns its folder. */
export function makeChannel(name: string, files: Record<string, string>): string {
    const dir = path.join(repoRoot, 'out', 'tmp', `${name}-${process.pid}-${Date.now()}`);
    for (const [rel, text] of Object.entries(files)) {
        const file = path.join(dir, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, text);
    }
    return dir;
}

export function removeChannel(dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * makeChannel for one test file: everything it makes (and any path passed to `track`) is removed
 * after the file's tests. Call at the top level of the test file.
 */
export function throwawayChannels(): { make: (name: string, files: Record<string, string>) => string; track: (p: string) => void } {
    const made: string[] = [];
    after(() => made.forEach(removeChannel));
    return {
        make: (name, files) => {
            const dir = makeChannel(name, files);
            made.push(dir);
            return dir;
        },
        track: (p) => {
            made.push(p);
        }
    };
}

/** A main() that shows a scene and returns when the scene sets `done`. */
export const SCENE_MAIN = `function main(args as object) as void
    screen = createObject("roSGScreen")
    port = createObject("roMessagePort")
    screen.setMessagePort(port)
    scene = screen.createScene("TestScene")
    screen.show()
    scene.observeField("done", port)
    while true
        msg = wait(0, port)
        if type(msg) = "roSGNodeEvent" and msg.getField() = "done"
            return
        end if
    end while
end function
`;
