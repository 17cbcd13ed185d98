// Loads GraphiQL from a running server in headless Chromium, runs the query it opens on,
// and prints what the result pane shows as JSON. Every request to another host is aborted,
// so the page must work with this server alone. Usage: node graphiql.mjs URL SCREENSHOT
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const origin = new URL(url).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const aborted = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.route("**/*", (route) => {
    if (new URL(route.request().url()).origin === origin) return route.continue();
    aborted.push(route.request().url());
    return route.abort();
  });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-execute-button", { timeout: 15000 });
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(
    () => (document.querySelector(".result-window")?.textContent || "").includes("Sony Music"),
    null,
    { timeout: 15000 },
  );
  const result = await page.textContent(".result-window");
  await page.screenshot({ path: screenshot });
  console.log(JSON.stringify({ result, aborted, errors }));
} finally {
  await browser.close();
}
