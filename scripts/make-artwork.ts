/**
 * Renders the channel's splash screen, poster icons and the busy spinner (a ring with a gap, on
 * transparency; the BusySpinner node turns it) to PNG with headless Chromium.
 * Run it after changing the artwork text or colours: `npx ts-node scripts/make-artwork.ts`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { chromium } from 'playwright-core';
import { chromiumArgs, findChromium } from './lib/chromium';

const ART: { file: string; width: number; height: number; title: number; sub: number }[] = [
    { file: 'images/splash_fhd.jpg', width: 1920, height: 1080, title: 120, sub: 40 },
    { file: 'images/icon_focus_fhd.png', width: 540, height: 405, title: 64, sub: 22 },
    { file: 'images/icon_focus_hd.png', width: 290, height: 218, title: 34, sub: 12 },
    { file: 'images/icon_side_hd.png', width: 108, height: 69, title: 14, sub: 0 }
];

function html(a: (typeof ART)[number]): string {
    return `<!DOCTYPE html><html><body style="margin:0">
<div style="width:${a.width}px;height:${a.height}px;display:flex;flex-direction:column;align-items:center;justify-content:center;
background:linear-gradient(135deg,#14213d 0%,#1d3557 55%,#2a9d8f 100%);font-family:sans-serif;color:#fff">
<div style="font-size:${a.title}px;font-weight:700;letter-spacing:1px">Cleeng&nbsp;Pay</div>
${a.sub ? `<div style="font-size:${a.sub}px;opacity:.85;margin-top:${Math.round(a.sub / 2)}px">Subscribe on your Roku</div>` : ''}
</div></body></html>`;
}

(async () => {
    const browser = await chromium.launch({ executablePath: findChromium(), headless: true, args: chromiumArgs() });
    try {
        for (const a of ART) {
            const page = await browser.newPage({ viewport: { width: a.width, height: a.height } });
            await page.setContent(html(a));
            const out = path.resolve(__dirname, '..', a.file);
            fs.mkdirSync(path.dirname(out), { recursive: true });
            fs.writeFileSync(out, await page.screenshot(a.file.endsWith('.jpg') ? { type: 'jpeg', quality: 80 } : { type: 'png' }));
            await page.close();
            console.log(`${a.file} ${a.width}x${a.height}`);
        }
        const spinner = await browser.newPage({ viewport: { width: 96, height: 96 } });
        await spinner.setContent(`<!DOCTYPE html><html><body style="margin:0;background:transparent">
<div style="box-sizing:border-box;width:96px;height:96px;border-radius:50%;border:10px solid rgba(255,255,255,.25);border-top-color:#2a9d8f"></div></body></html>`);
        fs.writeFileSync(path.resolve(__dirname, '..', 'images/spinner.png'), await spinner.screenshot({ type: 'png', omitBackground: true }));
        await spinner.close();
        console.log('images/spinner.png 96x96');
    } finally {
        await browser.close();
    }
})().catch((err: unknown) => {
    console.error(`make-artwork failed: ${(err as Error).message}`);
    process.exit(1);
});
