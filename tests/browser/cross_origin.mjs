// A page on another origin calls the API with fetch() in headless Chromium, as a frontend app
// does: an answer, the same GET again (the browser revalidates its copy: 304 on the wire),
// the page revalidating a copy of its own (If-None-Match, sent past the preflight), and a
// refused query. Prints, as JSON, what the page's script read of each (status, headers, body)
// and the statuses that came over the wire.
// Usage: node cross_origin.mjs API_URL PAGE_URL
import { chromium } from "playwright-core";

const [api, pageUrl] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});

// What the page's script gets of a fetch: all it may read, or the error it is thrown.
const read = (page, url, init = {}) =>
  page.evaluate(
    async ([url, init]) => {
      try {
        const response = await fetch(url, init);
        const headers = Object.fromEntries(response.headers.entries());
        return { status: response.status, headers, body: await response.text() };
      } catch (error) {
        return { error: String(error) };
      }
    },
    [url, init],
  );

try {
  const page = await browser.newPage();
  const session = await page.context().newCDPSession(page);
  await session.send("Network.enable");
  const wire = []; // [request id, status] of each answer as it came over the wire (a 304 too)
  session.on("Network.responseReceivedExtraInfo", (event) =>
    wire.push([event.requestId, event.statusCode]),
  );
  await page.goto(pageUrl);
  const query = `${api}?query=${encodeURIComponent('{ company(slug: "sony-music") { name } }')}`;
  const first = await read(page, query);
  const again = await read(page, query); // the browser's copy, revalidated
  const own = await read(page, query, {
    cache: "no-store", // the page's own copy: the browser's cache is not asked
    headers: { "If-None-Match": first.headers.etag },
  });
  const refused = await read(page, api, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query: "{ nope }" }),
  });
  console.log(JSON.stringify({ first, again, own, refused, wire: wire.map(([, s]) => s) }));
} finally {
  await browser.close();
}
