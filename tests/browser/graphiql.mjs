// Loads GraphiQL from a running server in headless Chromium: the Docs are open, a header typed
// into the headers editor goes with the request, the query it opens on runs and shows its
// answer, and the run is in the history; the Docs closed stay closed on a reload, and a first
// visit on a narrow screen opens without them; a link with a query opens on it, and the address
// follows an edit. Prints what it saw as JSON, with the page's CSP
// and what it refused (events and console messages) or failed to load. Every request to another
// host is aborted, so the page must work with this server alone.
// Usage: node graphiql.mjs URL SCREENSHOT
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const origin = new URL(url).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const aborted = [];
// Every request to another host is aborted (and noted).
const offline = (page) =>
  page.route("**/*", (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    aborted.push(route.request().url());
    return route.abort();
  });

// Whether the Docs are open once GraphiQL is up (the page opens them within a few frames of
// their button being there, if it does).
async function docsShown(page) {
  await page.waitForSelector(".graphiql-sidebar [aria-label$='Documentation Explorer']");
  await page.waitForTimeout(1000);
  return (await page.locator(".graphiql-doc-explorer").count()) > 0;
}

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await offline(page);
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  const refused = []; // what the page's CSP blocked
  await page.exposeFunction("reportRefused", (what) => refused.push(what));
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (event) =>
      window.reportRefused(`${event.effectiveDirective} ${event.blockedURI}`),
    ),
  );
  const failed = []; // what the page could not load (a missing /favicon.ico is only seen here)
  page.on("console", (message) => {
    if (/Content.Security.Policy/i.test(message.text())) refused.push(message.text());
    if (message.text().startsWith("Failed to load resource")) failed.push(message.location().url);
  });
  const sentHeaders = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && request.url().startsWith(url)) {
      const body = request.postData() || "";
      if (body.includes("Traversal")) sentHeaders.push(request.headers());
    }
  });
  const response = await page.goto(url, { waitUntil: "load" });
  const csp = response.headers()["content-security-policy"];
  await page.waitForSelector(".graphiql-execute-button", { timeout: 15000 });
  await page.waitForSelector(".graphiql-doc-explorer", { timeout: 15000 });
  // (selectors, not waitForFunction: its polling evaluates a string, which the page's CSP refuses)
  await page.waitForSelector('.graphiql-doc-explorer:has-text("Query")', { timeout: 15000 });
  const docs = await page.textContent(".graphiql-doc-explorer");
  // the page opened them, not the user: no choice is kept (a narrow screen later opens without)
  const keptAtFirst = await page.evaluate(() => localStorage.getItem("graphiql:visiblePlugin"));
  const docsWidth = (await page.locator(".graphiql-doc-explorer").boundingBox())?.width ?? 0;

  await page.getByRole("button", { name: "Headers" }).click();
  const headersEditor = page.locator(".graphiql-editor-tool .graphiql-editor").last();
  await headersEditor.click();
  await page.keyboard.type('{"X-Check": "headers-editor"');

  // The welcome document holds two operations (Traversal, Search): the run button asks which.
  await page.click(".graphiql-execute-button");
  await page.getByRole("menuitem", { name: "Traversal" }).click({ timeout: 15000 });
  await page.waitForSelector('.result-window:has-text("Sony Music")', { timeout: 15000 });
  const result = await page.textContent(".result-window");
  await page.screenshot({ path: screenshot });

  await page.getByRole("button", { name: "Show History" }).click();
  await page.waitForSelector(".graphiql-history", { timeout: 15000 });
  const history = await page.textContent(".graphiql-history");
  // what the browser keeps for the page: the history and a run starred in it, never a header
  // typed for a run
  const kept = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  await page.getByRole("button", { name: "Add favorite" }).first().click();
  await page.getByRole("button", { name: "Remove favorite" }).first().waitFor();
  const stored = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));

  // Into the Docs: a root type's page (its fields) renders under the same policy.
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  await page.locator(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name").first().click();
  await page.waitForSelector(".graphiql-doc-explorer-field-name", { timeout: 15000 });
  // the colours of a type's link in the Docs and of the result's text, and what is behind
  const colours = await page.evaluate(() => {
    // what is behind an element: its ancestors' backgrounds laid over white, translucent
    // ones blended (GraphiQL paints its panes in translucent tints)
    const painted = (element) => {
      const layers = [];
      for (let at = element; at; at = at.parentElement) {
        const [r, g, b, a = 1] = getComputedStyle(at).backgroundColor.match(/[\d.]+/g).map(Number);
        if (a > 0) layers.unshift([r, g, b, a]);
        if (a === 1) break;
      }
      let seen = [255, 255, 255];
      for (const [r, g, b, a] of layers) seen = [r, g, b].map((c, i) => c * a + seen[i] * (1 - a));
      return `rgb(${seen.map(Math.round).join(", ")})`;
    };
    // a text's colour as seen: a translucent one blended over what is behind it
    const seenAs = (color, behind) => {
      const [r, g, b, a = 1] = color.match(/[\d.]+/g).map(Number);
      const under = behind.match(/[\d.]+/g).map(Number);
      const blended = [r, g, b].map((c, i) => Math.round(c * a + under[i] * (1 - a)));
      return `rgb(${blended.join(", ")})`;
    };
    const of = (selector) =>
      [...document.querySelectorAll(selector)].slice(0, 40).map((element) => {
        const background = painted(element);
        const color = seenAs(getComputedStyle(element).color, background);
        return { color, background, what: element.className };
      });
    return [
      ...of(".graphiql-doc-explorer a.graphiql-doc-explorer-type-name"),
      ...of(".result-window .CodeMirror-line span[class^='cm-']"),
      ...of(".graphiql-query-editor .CodeMirror-line span[class^='cm-']"),
    ];
  });
  const sent = sentHeaders.map((headers) => headers["x-check"] || null);

  // Closed, the Docs stay closed when the page is loaded again.
  await page.getByRole("button", { name: "Hide Documentation Explorer" }).click();
  await page.reload({ waitUntil: "load" });
  const docsAfterClosing = await docsShown(page);

  // A first visit on a narrow screen opens on the editors alone.
  const narrow = await browser.newPage({ viewport: { width: 800, height: 900 } });
  await offline(narrow);
  await narrow.goto(url, { waitUntil: "load" });
  const docsWhenNarrow = await docsShown(narrow);
  await narrow.close();

  // A phone's width (320 CSS px, as WCAG's reflow asks): the answer is shown below the
  // editors, the page scrolling down, not across.
  const phone = await browser.newPage({ viewport: { width: 320, height: 640 } });
  await offline(phone);
  await phone.goto(url, { waitUntil: "load" });
  await phone.waitForSelector(".graphiql-execute-button", { timeout: 15000 });
  await phone.click(".graphiql-execute-button");
  await phone.getByRole("menuitem", { name: "Traversal" }).click({ timeout: 15000 });
  await phone.waitForSelector('.result-window:has-text("Sony Music")', { timeout: 15000 });
  const onPhone = {
    result: (await phone.locator(".result-window").boundingBox())?.width ?? 0,
    across: await phone.evaluate(() => document.documentElement.scrollWidth),
  };
  await phone.close();

  // A link opens on its query and variables, which run as they are; the address follows an
  // edit, so the edited query can be shared in turn.
  const linked = "query Linked($n: Int) { programs(first: $n) { totalCount } }";
  const link = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await offline(link);
  const linkedRuns = [];
  link.on("request", (request) => {
    const body = request.postData() || "";
    if (request.method() === "POST" && body.includes("Linked")) linkedRuns.push(JSON.parse(body));
  });
  const parameters = new URLSearchParams({ query: linked, variables: '{"n": 2}' });
  await link.goto(`${url}?${parameters}`, { waitUntil: "load" });
  await link.waitForSelector(".graphiql-execute-button", { timeout: 15000 });
  const editor = ".graphiql-query-editor .CodeMirror";
  await link.waitForSelector(editor, { timeout: 15000 });
  const linkedEditor = await link.evaluate(
    (at) => document.querySelector(at).CodeMirror.getValue(),
    editor,
  );
  await link.click(".graphiql-execute-button");
  await link.waitForSelector('.result-window:has-text("totalCount")', { timeout: 15000 });
  const linkedResult = await link.textContent(".result-window");
  await link.locator(editor).click();
  await link.keyboard.press("Control+End");
  await link.keyboard.type(" # edited");
  await link.waitForTimeout(1500); // (the page writes the address a moment after an edit)
  const followed = Object.fromEntries(new URL(link.url()).searchParams);
  await link.close();
  const linking = { linkedEditor, linkedResult, linkedRuns, followed };

  // The keyboard alone: Tab in an editor indents; Escape then Tab leaves it for the next
  // control, from which Tab reaches the run button and the variables editor; Escape then
  // Shift-Tab leaves it backwards.
  const keys = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await offline(keys);
  await keys.goto(url, { waitUntil: "load" });
  await keys.waitForSelector(editor, { timeout: 15000 });
  // a favourite an earlier page kept with its headers: gone from storage as the page opens
  await keys.evaluate(() => {
    const run = { query: "{ __typename }", headers: '{"Authorization": "Bearer old"}' };
    localStorage.setItem("graphiql:favorites", JSON.stringify({ favorites: [run] }));
  });
  await keys.reload({ waitUntil: "load" });
  await keys.waitForSelector(editor, { timeout: 15000 });
  const earlier = await keys.evaluate(() => localStorage.getItem("graphiql:favorites"));
  await keys.waitForTimeout(1000); // (the page writes the address a moment after a change)
  const plainAddress = keys.url(); // a plain visit keeps its address (no welcome query in it)
  await keys.keyboard.press("Tab"); // the first stop: past the sidebar and the Docs
  const first = await keys.evaluate(() => document.activeElement.textContent);
  await keys.keyboard.press("Enter");
  const skipped = await keys.evaluate(() =>
    Boolean(document.activeElement.closest(".graphiql-query-editor .CodeMirror")),
  );
  await keys.locator(editor).click();
  const focus = () =>
    keys.evaluate(() => {
      const at = document.activeElement;
      const editor = at.closest(".CodeMirror");
      const area = at.closest(".graphiql-query-editor, .graphiql-editor-tool");
      return {
        inEditor: Boolean(editor),
        editor: area ? area.className : null,
        label: at.getAttribute("aria-label") || at.textContent.trim().slice(0, 40),
        run: at.classList.contains("graphiql-execute-button"),
      };
    });
  const text = () => keys.evaluate((at) => document.querySelector(at).CodeMirror.getValue(), editor);
  const before = await text();
  await keys.keyboard.press("Tab");
  const tabbed = { indented: (await text()) !== before, focus: await focus() };
  await keys.keyboard.press("Escape");
  await keys.keyboard.press("Tab");
  const left = await focus();
  const reached = [];
  for (let step = 0; step < 30 && !reached.some((f) => f.inEditor); step += 1) {
    await keys.keyboard.press("Tab");
    reached.push(await focus());
  }
  await keys.locator(editor).click();
  await keys.keyboard.press("Escape");
  await keys.keyboard.press("Shift+Tab");
  const leftBack = await focus();
  // An Escape that closes the completions' list is theirs: Tab after it indents
  await keys.locator(editor).click();
  await keys.keyboard.press("Control+Home");
  await keys.keyboard.press("End"); // the end of the first comment line: a new line below
  await keys.keyboard.press("Enter");
  await keys.keyboard.type("{ comp");
  await keys.waitForSelector(".CodeMirror-hints", { timeout: 15000 });
  await keys.keyboard.press("Escape");
  await keys.keyboard.press("Tab");
  const afterHints = await focus();
  await keys.close();
  const keyboard = {
    earlier,
    plainAddress,
    first,
    skipped,
    tabbed,
    left,
    reached,
    leftBack,
    afterHints,
  };

  const seen = { result, docs, docsWidth, history, kept, stored, sent, aborted, errors, csp };
  console.log(
    JSON.stringify({
      ...seen,
      failed,
      refused,
      colours,
      keptAtFirst,
      docsAfterClosing,
      docsWhenNarrow,
      onPhone,
      linking,
      keyboard,
    }),
  );
} finally {
  await browser.close();
}
