// Opens the explorer of a running server in headless Chromium, with every request to another
// host aborted, and prints what it shows as JSON: for each program asked for, what its expanded
// tree lists (partners, places, the quotes of each) and what the map marks; then the source
// panel of a quote; then, on a second page whose server "forgot" the persisted queries, that the
// page registered them. tests/test_explorer.py compares it all with the API's own answers.
// Usage: node explorer.mjs URL SCREENSHOT PATHS, PATHS a JSON list of program id paths (each
// from a top-level program down to the one to check; the last path's program is left open).
import { chromium } from "playwright-core";

const [url, screenshot, pathsJson] = process.argv.slice(2);
const paths = JSON.parse(pathsJson);
const origin = new URL(url).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const aborted = [];
const errors = [];

async function open(forget) {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const requests = [];
  const forgotten = new Set();
  await page.route("**/*", (route) => {
    const request = route.request();
    const target = new URL(request.url());
    if (target.origin !== origin) {
      aborted.push(request.url());
      return route.abort();
    }
    requests.push({
      method: request.method(),
      path: target.pathname,
      query: target.search,
      body: request.postData(),
    });
    const name = target.searchParams.get("operationName");
    if (
      forget &&
      target.pathname === "/graphql" &&
      request.method() === "GET" &&
      !forgotten.has(name)
    ) {
      forgotten.add(name); // as a server that lost its persisted queries answers
      return route.fulfill({
        status: 200,
        contentType: "application/json",
        body: JSON.stringify({
          errors: [
            {
              message: "PersistedQueryNotFound",
              extensions: { code: "PERSISTED_QUERY_NOT_FOUND" },
            },
          ],
        }),
      });
    }
    return route.continue();
  });
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      errors.push(`${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
  return { page, requests };
}

// What the page shows now: the tree under a program, the map's marks, the place list.
function seen(page, id) {
  return page.evaluate((id) => {
    const quotes = (element) =>
      Object.fromEntries(
        [...element.querySelectorAll(":scope > .quotes")].map((block) => [
          block.querySelector(".label").textContent,
          [...block.querySelectorAll("button.quote")].map((button) => button.title),
        ]),
      );
    // what the page says an item or its relation rests on, where it is not a quote alone
    const bases = (element) => [
      ...[...element.querySelectorAll(":scope > .basis")].map((p) => p.textContent),
      ...[...element.querySelectorAll(":scope > details.fields-basis li")].map(
        (li) => `${li.dataset.field} ${li.dataset.basis}:${li.textContent}`,
      ),
    ];
    const item = (li) => ({
      id: li.dataset.id,
      name: li.querySelector(":scope > .name").textContent,
      quotes: quotes(li),
      bases: bases(li),
      places: [...li.querySelectorAll(":scope > ul.places > li.place")].map(item),
    });
    const details = id && document.querySelector(`li.program[data-id="${id}"] > .details`);
    const map = document.querySelector("#world svg");
    return {
      program: details
        ? {
            hidden: details.hidden,
            quotes: quotes(details),
            bases: bases(details),
            partners: [...details.querySelectorAll(":scope > ul.partners > li.partner")].map(item),
            places: [...details.querySelectorAll(":scope > ul.places > li.place")].map(item),
          }
        : null,
      map: {
        countries: map.querySelectorAll("path[data-code]").length,
        marked: [...map.querySelectorAll("path.marked")].map((path) => path.dataset.code).sort(),
        selected: [...map.querySelectorAll("path.selected")]
          .map((path) => path.dataset.code)
          .sort(),
        dots: [...map.querySelectorAll("circle.city")].map((dot) => dot.dataset.code).sort(),
        caption: document.getElementById("map-caption").textContent,
        listed: [...document.querySelectorAll("#place-list > li")].map((li) => li.dataset.id).sort(),
        quoted: Object.fromEntries(
          [...document.querySelectorAll("#place-list > li")].map((li) => [
            li.dataset.id,
            [...li.querySelectorAll("button.quote")].map((button) => button.title),
          ]),
        ),
      },
    };
  }, id);
}

async function expand(page, id) {
  const toggle = page.locator(`li.program[data-id="${id}"] > .row > .toggle`);
  if ((await toggle.getAttribute("aria-expanded")) !== "true") await toggle.click();
  await page.waitForSelector(`li.program[data-id="${id}"] > .details[data-loaded]`, {
    timeout: 15000,
  });
}

try {
  const { page, requests } = await open(false);
  const overview = await seen(page, null);
  const programs = [];
  for (const [index, path] of paths.entries()) {
    for (const id of path) await expand(page, id);
    const id = path.at(-1);
    const shown = await seen(page, id);
    if (index < paths.length - 1) {
      for (const outer of [...path].reverse())
        await page.click(`li.program[data-id="${outer}"] > .row > .toggle`);
      shown.afterCollapse = await seen(page, id);
    }
    programs.push({ id, ...shown });
  }
  // The last program's first partner: open the quote that makes it a partner.
  const last = paths.at(-1).at(-1);
  const quote = page
    .locator(
      `li.program[data-id="${last}"] > .details > ul.partners > li.partner .quotes button.quote`,
    )
    .first();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: screenshot });
  const opened = { button: await quote.getAttribute("title") };
  await quote.click();
  await page.waitForSelector("#source-text mark", { timeout: 15000 });
  opened.mark = await page.textContent("#source-text mark");
  opened.text = await page.textContent("#source-text");
  opened.document = await page.textContent("#source-document");
  opened.quote = await page.textContent("#source-quote");
  opened.markVisible = await page.locator("#source-text mark").isVisible();
  await page.screenshot({ path: screenshot.replace(/\.png$/, "-source.png") });
  await page.keyboard.press("Escape");
  opened.closed = !(await page.locator("#source").evaluate((dialog) => dialog.open));

  const registering = await open(true);
  const registered = registering.requests.filter((request) => request.method === "POST");
  const companies = await registering.page.locator(".company").count();

  console.log(
    JSON.stringify({
      overview,
      programs,
      opened,
      requests,
      registered,
      companies,
      aborted,
      errors,
    }),
  );
} finally {
  await browser.close();
}
