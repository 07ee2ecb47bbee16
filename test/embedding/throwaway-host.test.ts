/**
 * The purchase flow as a ropm package in someone else's channel: a throwaway host channel in a
 * temp folder installs dist/ropm with the real ropm, builds with this repo's bsc with no
 * diagnostics at all, and sells a plan in the simulator through the packaged flow, against the
 * real relay and the Cleeng fake on loopback, and the test-only store emulator the harness adds to the host.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { after, before, describe, it } from 'node:test';
import type { CleengEmulator } from '../../emulators/cleeng';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { checkRopmPackage, ropmNameClashes } from '../../scripts/build-ropm';
import { buildHostChannel, ropmInstall } from '../../scripts/lib/host-channel';
import { explain, runChannel, startChain } from '../e2e/support';
import { filesUnder, injectStoreEmulator, ropmPackage } from './support';

const MANIFEST = ['title=Throwaway Host', 'major_version=1', 'minor_version=0', 'build_version=1', 'ui_resolutions=fhd', ''].join('\n');

// Plain BrightScript, the way many existing channels are written.
const MAIN_BRS = `sub main(args as dynamic)
    screen = createObject("roSGScreen")
    port = createObject("roMessagePort")
    screen.setMessagePort(port)
    scene = screen.createScene("HostScene")
    screen.show()
    scene.observeField("done", port)
    while true
        msg = wait(0, port)
        if type(msg) = "roSGScreenEvent"
            if msg.isScreenClosed() then return
        else if type(msg) = "roSGNodeEvent"
            if msg.getField() = "done" and msg.getData() = true then return
        end if
    end while
end sub
`;

const SCENE_XML = `<?xml version="1.0" encoding="utf-8" ?>
<component name="HostScene" extends="Scene">
    <script type="text/brightscript" uri="HostScene.brs" />
    <interface>
        <field id="done" type="boolean" value="false" />
    </interface>
    <children>
        <Label id="home" text="Throwaway host" translation="[100,100]" />
        <cleengpay_PurchaseFlow id="paywall" visible="false" />
    </children>
</component>
`;

function sceneBrs(relayUrl: string): string {
    return `sub init()
    m.film = { id: "film-1", offerIds: ["S123123123_US"] }
    m.paywall = m.top.findNode("paywall")
    m.paywall.config = { relayUrl: "${relayUrl}", offerOverrides: {} }
    m.paywall.theme = { accentColor: "#E50914", brandText: "Throwaway TV" }
    ' Test seam (sideloaded channels only): the store emulator the test harness added.
    m.paywall.storeNodeType = "StoreEmulator"
    m.paywall.observeField("phase", "onPhase")
    m.paywall.observeField("purchase", "onPurchase")
    m.paywall.observeField("accessGranted", "onAccess")
    m.paywall.observeField("exitRequested", "onExit")
    m.paywall.visible = true
    m.paywall.setFocus(true)
    m.paywall.start = true
end sub

sub onPhase()
    print "[host] phase "; m.paywall.phase
    if m.paywall.phase = "catalog" then report("before")
end sub

sub onPurchase()
    print "[host] purchase offer "; m.paywall.purchase.offerId
end sub

sub onAccess()
    if m.paywall.accessGranted
        report("after")
    end if
end sub

sub onExit()
    m.top.done = true
end sub

sub report(label as string)
    e = m.paywall.callFunc("entitlementFor", m.film)
    print "[host] entitlement "; label; " entitled="; e.entitled; " known="; e.known; " offers="; e.offerIds.join(","); " granted="; e.grantedOfferId
end sub
`;
}

const BSCONFIG = {
    rootDir: '.',
    files: ['manifest', 'source/**/*', 'components/**/*', 'csfake/**/*'],
    createPackage: false,
    retainStagingDir: true
};

describe('the purchase flow as a ropm package in a throwaway host channel', { concurrency: false }, () => {
    let chain: LocalStack;
    let emulator: CleengEmulator;
    let host: string;
    let installOutput = '';

    before(async () => {
        chain = await startChain();
        emulator = chain.cleeng;
        host = fs.mkdtempSync(path.join(os.tmpdir(), 'throwaway-host-'));
        fs.writeFileSync(path.join(host, 'package.json'), JSON.stringify({ name: 'throwaway-host', version: '1.0.0', private: true }, null, 2));
        fs.writeFileSync(path.join(host, 'manifest'), MANIFEST);
        fs.writeFileSync(path.join(host, 'bsconfig.json'), JSON.stringify(BSCONFIG, null, 2));
        fs.mkdirSync(path.join(host, 'source'));
        fs.writeFileSync(path.join(host, 'source', 'main.brs'), MAIN_BRS);
        fs.mkdirSync(path.join(host, 'components'));
        fs.writeFileSync(path.join(host, 'components', 'HostScene.xml'), SCENE_XML);
        fs.writeFileSync(path.join(host, 'components', 'HostScene.brs'), sceneBrs(chain.relayUrl));
    });
    after(async () => {
        await chain?.close();
        fs.rmSync(host, { recursive: true, force: true });
    });

    it('builds a package that holds the flow, its store and Cleeng components and logic, and nothing test-only', async () => {
        const pkg = await ropmPackage();
        assert.deepEqual(checkRopmPackage(pkg.files), []);
        for (const file of ['components/PurchaseFlow/PurchaseFlow.xml', 'components/PurchaseStore/PurchaseStore.xml', 'components/CleengService/CleengService.xml', 'source/flow/Flow.brs', 'source/embed/Embed.d.bs']) {
            assert.ok(pkg.files.includes(file), `${file} in ${pkg.files.join(', ')}`);
        }
        assert.ok(!pkg.files.some((f) => /spec|StoreEmulator|csfake|MainScene|main\.brs/i.test(f)), pkg.files.join(', '));
        // The checker itself refuses what must not ship.
        assert.equal(checkRopmPackage(['components/test/StoreEmulator/StoreEmulator.xml', 'source/flow/Flow.spec.brs', 'csfake/GetCatalog.xml', 'manifest']).length, 4);
    });

    it('refuses a package whose loop variables or parameters share a name with a function (ropm would break them)', () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ropm-clash-'));
        try {
            fs.mkdirSync(path.join(dir, 'source'));
            fs.writeFileSync(path.join(dir, 'source', 'A.d.bs'), 'namespace a\n    function key(x as string) as string\n    end function\nend namespace\n');
            fs.writeFileSync(path.join(dir, 'source', 'B.brs'), 'function b(list as object) as void\n    for each key in list\n        print key\n    end for\nend function\n');
            const clashes = ropmNameClashes(dir, ['source/A.d.bs', 'source/B.brs']);
            assert.equal(clashes.length, 1, clashes.join('\n'));
            assert.match(clashes[0], /source\/B\.brs: "key"/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it('installs with the real ropm from the local path, prefixing components and namespaces', async () => {
        const pkg = await ropmPackage();
        installOutput = await ropmInstall(host, pkg.dir);
        assert.match(installOutput, /ropm: copying cleengpay@/);
        const installed = filesUnder(path.join(host, 'components/roku_modules/cleengpay'));
        assert.ok(installed.includes('PurchaseFlow/PurchaseFlow.xml'), installed.join(', '));
        const flowXml = fs.readFileSync(path.join(host, 'components/roku_modules/cleengpay/PurchaseFlow/PurchaseFlow.xml'), 'utf8');
        assert.match(flowXml, /<component name="cleengpay_PurchaseFlow"/);
        assert.match(flowXml, /uri="pkg:\/source\/roku_modules\/cleengpay\/flow\/Flow\.brs"/);
        const flowBrs = fs.readFileSync(path.join(host, 'components/roku_modules/cleengpay/PurchaseFlow/PurchaseFlow.component.brs'), 'utf8');
        assert.match(flowBrs, /createObject\("roSGNode", "cleengpay_PurchaseStore"\)/);
        assert.match(flowBrs, /cleengpay_flow_reduce\(/);
        const typedef = fs.readFileSync(path.join(host, 'source/roku_modules/cleengpay/embed/EmbedRecords.d.bs'), 'utf8');
        assert.match(typedef, /namespace cleengpay\.embed/);
        assert.deepEqual([...filesUnder(path.join(host, 'components/roku_modules')), ...filesUnder(path.join(host, 'source/roku_modules'))].filter((f) => /spec|StoreEmulator|csfake/i.test(f)), []);
    });

    it('builds the host with bsc with zero diagnostics', async () => {
        injectStoreEmulator(host);
        const result = await buildHostChannel({ dir: host });
        assert.ok(fs.statSync(result.zipPath).size > 0);
    });

    it('sells a plan in the simulator through the packaged flow, and the entitlement query follows', async () => {
        emulator.reset();
        await chain.resetRelay();
        const zip = path.join(host, 'out', 'bsconfig.zip');
        const result = await runChannel({
            app: zip,
            timeoutMs: 90000,
            // Content opens as soon as Roku's order succeeds; the receipt and Cleeng's confirmation
            // go on in the background, so the viewer leaves (Back) once Cleeng's check granted access.
            keys: [{ when: '[flow] screen catalog' }, { when: '[flow] focus catalog', anytime: true, key: 'Select' }, { when: /^\[cleeng\] access S123123123_US granted=true/, key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        const lines = result.lines;
        assert.ok(lines.includes('[host] entitlement before entitled=false known=true offers=S123123123_US granted='), explain(result));
        assert.ok(lines.includes('[host] purchase offer S123123123_US'), explain(result));
        assert.ok(lines.includes('[host] entitlement after entitled=true known=true offers=S123123123_US granted=S123123123_US'), explain(result));
        const receipts = emulator.requests.filter((r) => r.method === 'POST' && r.path === '/roku/payment');
        assert.equal(receipts.length, 1, JSON.stringify(emulator.requests.map((r) => `${r.method} ${r.path}`)));
        assert.equal(emulator.hasAccess('test@example.com', 'S123123123_US'), true);
    });
});
