/**
 * brs-engine 2.2.0 and brs-scenegraph 0.1.0 wait by spinning: `wait(timeout, port)`, `Sleep()`
 * and the engine's internal sleep loop on `performance.now()` until something arrives or the time
 * is up, and the SceneGraph screen holds every frame to its frame time (1000 / maxFps ms) with a
 * `Date.now()` loop. So every BrightScript thread that waits (main, render, each Task) keeps a CPU
 * core busy for as long as the channel runs: on a 2-core machine two idle channels took the whole
 * machine.
 *
 * The scripts the simulator serves are patched so those loops block on `Atomics.wait` instead:
 * for a few milliseconds between two rounds of checks in `wait()`, and for the rest of the time
 * in a sleep or a frame. What the app sees is unchanged: the same checks run in the same order
 * (messages, Task fields, timers, keys), a wait's round only up to IDLE_SLICE_MS later; a Sleep
 * and a frame last as long as before. If a script does not look as expected (another version),
 * it is served unpatched and the patch function says why.
 *
 *   SIM_ENGINE_IDLE=0    serve the engine's worker as it is (spinning)
 */

/** Longest a waiting thread blocks before it checks its port again. */
export const IDLE_SLICE_MS = 4;

const HELPER =
    '/* simulator: idle helpers (scripts/lib/engine-idle.ts) */' +
    'globalThis.__simIdleView=new Int32Array(new SharedArrayBuffer(4));' +
    `globalThis.__simIdle=function(ms){if(ms>0){Atomics.wait(globalThis.__simIdleView,0,0,Math.min(${IDLE_SLICE_MS},ms));}};` +
    'globalThis.__simSleepUntil=function(end){for(let left=end-performance.now();left>0;left=end-performance.now()){Atomics.wait(globalThis.__simIdleView,0,0,left);}};\n';

interface Patch {
    name: string;
    from: string;
    to: string;
}

const PATCHES: Patch[] = [
    {
        // roMessagePort.wait: block a slice between two rounds of checks (not before the first).
        name: 'roMessagePort.wait',
        from: 'wait(e,t){const r=0===t,n=t+performance.now();for(;r||performance.now()<n;){',
        // (The loop body declares its own r and n: the slice uses copies taken before the loop.)
        to:
            'wait(e,t){const r=0===t,n=t+performance.now(),__simForever=r,__simEnd=n;let __simAgain=!1;for(;r||performance.now()<n;){' +
            `if(__simAgain){globalThis.__simIdle(__simForever?${IDLE_SLICE_MS}:__simEnd-performance.now());}__simAgain=!0;`
    },
    {
        name: 'engine sleep',
        from: 'static sleep(e){for(e+=performance.now();performance.now()<e;);}',
        to: 'static sleep(e){globalThis.__simSleepUntil(e+performance.now());}'
    },
    {
        name: 'Sleep()',
        from: 'let r=t.getValue();for(r+=performance.now();performance.now()<r;);return N.Instance',
        to: 'let r=t.getValue();globalThis.__simSleepUntil(r+performance.now());return N.Instance'
    }
];

const SCENEGRAPH_HELPER =
    '/* simulator: idle helper (scripts/lib/engine-idle.ts) */' +
    'globalThis.__simSleepUntil=globalThis.__simSleepUntil||function(end){const v=new Int32Array(new SharedArrayBuffer(4));for(let left=end-performance.now();left>0;left=end-performance.now()){Atomics.wait(v,0,0,left);}};\n';

const SCENEGRAPH_PATCHES: Patch[] = [
    {
        // roSGScreen: the rest of the frame time is slept, not spun.
        name: 'SceneGraph frame pacing',
        from: 'let h=Date.now();for(;h-this.lastMessage<this.maxMs;)h=Date.now();',
        to: 'let h=Date.now();if(h-this.lastMessage<this.maxMs){globalThis.__simSleepUntil(performance.now()+this.maxMs-(h-this.lastMessage));h=Math.max(Date.now(),this.lastMessage+this.maxMs);}'
    }
];

export interface PatchResult {
    code: string;
    /** Patches applied (all of them, or none). */
    applied: string[];
    /** Why nothing was patched, when nothing was. */
    skipped?: string;
}

function applyAll(code: string, patches: Patch[], helper: string, what: string, env: NodeJS.ProcessEnv): PatchResult {
    if (env.SIM_ENGINE_IDLE === '0') {
        return { code, applied: [], skipped: 'SIM_ENGINE_IDLE=0' };
    }
    for (const p of patches) {
        const count = code.split(p.from).length - 1;
        if (count !== 1) {
            return { code, applied: [], skipped: `${p.name}: expected once in ${what}, found ${count} times (another version?)` };
        }
    }
    let out = code;
    for (const p of patches) {
        out = out.replace(p.from, () => p.to);
    }
    return { code: helper + out, applied: patches.map((p) => p.name) };
}

/** brs-engine's worker script with the idle patches, or unchanged (all or nothing) when one does not apply. */
export function patchWorker(code: string, env: NodeJS.ProcessEnv = process.env): PatchResult {
    return applyAll(code, PATCHES, HELPER, "brs-engine's worker", env);
}

/** brs-scenegraph's extension script with the frame-pacing patch, or unchanged. */
export function patchSceneGraph(code: string, env: NodeJS.ProcessEnv = process.env): PatchResult {
    return applyAll(code, SCENEGRAPH_PATCHES, SCENEGRAPH_HELPER, 'brs-scenegraph', env);
}
