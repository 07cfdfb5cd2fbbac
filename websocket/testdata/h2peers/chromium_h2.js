// The body of an async function run by netkittest.Browser.Run (where
// `browser` is a headless Chromium): it loads the page argv[2] over HTTPS,
// prints the HTTP version it came over, then opens three WebSockets to
// argv[3] at once and round-trips text, binary, 1 MiB and a compressible
// text on each (Chromium always offers permessage-deflate), then closes
// them with 1000. chromium_h2.want is what it prints when everything
// passed.
    const page = await browser.newPage();
    await page.goto(process.argv[2]);
    console.log('PAGE:' + await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol));
    const results = await page.evaluate(async (url) => {
      const big = new Uint8Array(1 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
      const open = () => new Promise((res, rej) => {
        const ws = new WebSocket(url); ws.binaryType = 'arraybuffer';
        ws.onopen = () => res(ws); ws.onerror = () => rej(new Error('websocket error'));
      });
      const rt = (ws, m) => new Promise((res) => { ws.onmessage = (e) => res(e.data); ws.send(m); });
      const eq = (a, b) => { a = new Uint8Array(a); if (a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; };
      const out = [];
      const socks = await Promise.all([0, 1, 2].map(open));
      for (const [i, ws] of socks.entries()) {
        const t = 'hello chromium over h2 ' + i + ' \u2713';
        out.push(i + ' text ' + ((await rt(ws, t)) === t));
        const b = new Uint8Array([1, 2, 3, i]);
        out.push(i + ' binary ' + eq(await rt(ws, b), b));
        out.push(i + ' 1MiB ' + eq(await rt(ws, big), big));
        const z = ('z'.repeat(50) + i).repeat(2000);
        out.push(i + ' deflate ' + ((await rt(ws, z)) === z) + ' ' + ws.extensions.split(';')[0]);
      }
      const codes = await Promise.all(socks.map((ws) => new Promise((res) => {
        ws.onclose = (e) => res(e.code); ws.close(1000, 'done'); })));
      out.push('close ' + codes.join(','));
      return out;
    }, process.argv[3]);
    for (const l of results) console.log(l);
