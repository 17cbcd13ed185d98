// The explorer: the company, its programs, their partners and places as a tree, a world map
// of the places, and every fact's quote shown where it stands in its document. Everything comes
// from the public API at /graphql, by the page's own persisted operations
// (server/static/explorer/operations/). Text from the API goes into the page as text nodes
// only, never as markup.

const ENDPOINT = "/graphql";
const WORLD = "/explorer/world-110m.json";
const SVG = "http://www.w3.org/2000/svg";
const QUOTE_LENGTH = 90; // characters of a quote shown on its button
const OPERATIONS = JSON.parse(document.getElementById("operations").textContent);

// ---- GraphQL over HTTP: persisted queries ----------------------------------------------------

// An operation by its hash alone, as a GET (cacheable); if the server does not know the hash,
// the document with its hash, as a POST, which registers it (Apollo's automatic persisted
// queries). The hashes come with the page, so no `crypto.subtle` is needed.
async function request(name, variables = {}) {
  const { sha256, query } = OPERATIONS[name];
  const extensions = { persistedQuery: { version: 1, sha256Hash: sha256 } };
  const params = new URLSearchParams({
    operationName: name,
    extensions: JSON.stringify(extensions),
  });
  if (Object.keys(variables).length) params.set("variables", JSON.stringify(variables));
  let answer = await send(`${ENDPOINT}?${params}`, { method: "GET" });
  if (answer.errors?.some((error) => error.extensions?.code === "PERSISTED_QUERY_NOT_FOUND")) {
    answer = await send(ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, operationName: name, variables, extensions }),
    });
  }
  if (answer.errors?.length || !answer.data) {
    throw new Error(answer.errors?.[0]?.message ?? "the API answered without data");
  }
  return answer.data;
}

async function send(url, init) {
  // application/json: every well-formed request is a 200, errors in the body
  const headers = { accept: "application/json", ...init.headers };
  let response;
  try {
    response = await fetch(url, { ...init, headers });
  } catch {
    // (a browser's own words for it, "Failed to fetch", say nothing to a reader)
    throw new Error("the server could not be reached; is it running, and is the network up?");
  }
  if (!(response.headers.get("content-type") || "").includes("json")) {
    throw new Error(`the API answered ${response.status} ${response.statusText}`);
  }
  return response.json();
}

// A node the page names is gone when the API answers null: IDs are made of slugs, so a
// re-seed while the page is open can leave one naming nothing.
class Gone extends Error {}

async function nodeOf(operation, id, what) {
  const { node } = await request(operation, { id });
  if (!node) {
    throw new Gone(`This ${what} is no longer in the graph: reload the page to see it as it is.`);
  }
  return node;
}

// ---- The page's elements ---------------------------------------------------------------------

// An element with attributes and children; strings become text nodes.
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined));
  return element;
}

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

const KIND_NAMES = { PARTNER_PROJECT: "partner project", ARTIST_SUPPORT: "artist support" };
const kindName = (kind) => KIND_NAMES[kind] ?? kind.toLowerCase();
const shorten = (text, length) =>
  text.length > length ? `${text.slice(0, length - 1).trimEnd()}…` : text;
const programName = (program) => program.name ?? shorten(program.description ?? "A program", 70);

function status(text) {
  document.getElementById("status").textContent = text;
}

// A failure in words, announced where the load was asked for.
function failure(error) {
  const words = error instanceof Gone ? error.message : `Could not load: ${error.message}`;
  return h("p", { class: "error", role: "alert" }, words);
}

// Quote buttons find their citation here (no data in markup to parse back).
const citationOf = new WeakMap();

// Buttons opening each quote in its document, under a label saying what they support.
function quotes(citations, label) {
  if (!citations.length) return null;
  const buttons = citations.map((citation) => {
    const button = h(
      "button",
      {
        type: "button",
        class: "quote",
        title: `${citation.quote} (${citation.document.title})`,
        "aria-haspopup": "dialog", // it opens the quote in its document
      },
      `“${shorten(citation.quote, QUOTE_LENGTH)}”`,
    );
    citationOf.set(button, citation);
    return h("li", {}, button);
  });
  return h("div", { class: "quotes" }, h("span", { class: "label" }, label), h("ul", {}, buttons));
}

// What a statement rests on where it is not a quote alone (an inference and its reasoning, a
// reference source): said beside it, as the API says it (`provenance`), so that nothing the
// documents do not state reads as if they did. `why`: the relation's label ("Why a partner"),
// or none for the item itself. A stated one says nothing more than its quotes.
function basis(provenance, why = null) {
  if (!provenance || provenance.basis === "STATED") return null;
  const rests = restsOn(provenance);
  const label = why ? `${why}: ${lowerFirst(rests)}` : rests;
  return h(
    "p",
    { class: "basis", "data-basis": provenance.basis },
    h("span", { class: "label" }, label),
    provenance.note ? ` ${provenance.note}` : "",
  );
}

function restsOn(provenance) {
  if (provenance.basis === "INFERRED") return "Inferred, not quoted";
  return `From ${provenance.source ?? "a reference"}`;
}

// The item's fields that rest on something else than the item (a place's country code on ISO
// 3166-1, a program's company on an inference), folded away under the fields' names.
function fieldBases(provenance) {
  const fields = (provenance?.fields ?? []).filter((field) => field.basis !== "STATED");
  if (!fields.length) return null;
  const named = fields.map((field) => fieldName(field.field));
  return h(
    "details",
    { class: "fields-basis" },
    h("summary", {}, `Not quoted: ${[...new Set(named)].join(", ")}`),
    h(
      "ul",
      {},
      fields.map((field, index) =>
        h(
          "li",
          { "data-field": field.field, "data-basis": field.basis },
          h("span", { class: "label" }, `${named[index]}: ${lowerFirst(restsOn(field))}`),
          field.note ? ` ${field.note}` : "",
        ),
      ),
    ),
  );
}

const lowerFirst = (text) => text.charAt(0).toLowerCase() + text.slice(1);

// A field as the API names it, in words: countryCode -> country code.
const fieldName = (field) => field.replace(/[A-Z]/g, (letter) => ` ${letter.toLowerCase()}`);

function placeLabel(place) {
  const where = place.kind === "CITY" && place.parent ? `, ${place.parent.name}` : "";
  const code = place.countryCode ? ` (${place.countryCode})` : "";
  return `${place.name}${where}${code}`;
}

// ---- The tree: company > programs > partners and places ---------------------------------------

let detailsCount = 0;
const programs = new Map(); // id -> {program, item, toggle, panel, children, details, resolved}
let selected = null; // the id of the program whose places the map shows

function companyView(company) {
  const founded = [
    company.foundedYear ? `founded ${company.foundedYear}` : null,
    company.foundedIn ? `in ${company.foundedIn.name}` : null,
  ].filter(Boolean);
  const list = company.programs.nodes;
  const children = new Map(); // parent id -> programs set up under it
  for (const program of list) {
    const listed = program.parent && list.some((other) => other.id === program.parent.id);
    const parent = listed ? program.parent.id : null; // else shown at the top
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(program);
    slugs.set(program.slug, program.id);
    lineage.set(program.id, { slug: program.slug, parent });
  }
  const shown =
    list.length < company.programs.totalCount ? ` (the first ${list.length} shown)` : "";
  return h(
    "article",
    { class: "company", "data-id": company.id },
    h(
      "h3",
      {},
      company.name,
      h("span", { class: "meta" }, founded.length ? ` ${founded.join(" ")}` : ""),
    ),
    company.description ? h("p", { class: "description" }, company.description) : null,
    basis(company.provenance),
    quotes(company.citations, "Cited"),
    fieldBases(company.provenance),
    h("h4", {}, `${company.programs.totalCount} programs${shown}`),
    programList(children, null),
  );
}

function programList(children, parent) {
  const items = (children.get(parent) ?? []).map((program) => programItem(program, children));
  return h("ul", { class: "programs" }, items);
}

function programItem(program, children) {
  const id = `details-${++detailsCount}`;
  const toggle = h(
    "button",
    { type: "button", class: "toggle", "aria-expanded": "false", "aria-controls": id },
    h("span", { class: program.name ? "name" : "name unnamed" }, programName(program)),
  );
  const details = h("div", { id, class: "details", hidden: "" });
  const item = h(
    "li",
    { class: "program", "data-id": program.id },
    h("div", { class: "row" }, toggle, " ", h("span", { class: "kind" }, kindName(program.kind))),
    details,
  );
  const entry = { program, item, toggle, panel: details, children, details: null };
  programs.set(program.id, entry);
  toggle.addEventListener("click", () => toggleProgram(program.id, toggle, details, children));
  return item;
}

const isOpen = (entry) => entry.toggle.getAttribute("aria-expanded") === "true";

// A program's toggle and details, open or closed; focus in details being hidden goes back to
// their toggle, where a click closing them leaves it.
function show(entry, open) {
  entry.toggle.setAttribute("aria-expanded", String(open));
  if (!open && entry.panel.contains(document.activeElement)) entry.toggle.focus();
  entry.panel.hidden = !open;
}

async function toggleProgram(id, toggle, details, children) {
  toggled += 1; // a view the link or the history is restoring yields to the user's
  const entry = programs.get(id);
  const open = !isOpen(entry);
  show(entry, open);
  if (!open) {
    // a program closed, or one under it: the map goes back to every place
    const deselected = selected && entry.item.contains(programs.get(selected).item);
    if (deselected) select(null);
    remember(Boolean(deselected)); // a new view in the history only if the selection changed
    return;
  }
  const asked = traversed; // Back or Forward while it loads: the history's view stands
  try {
    await loadProgram(id, details, children);
  } catch {
    remember(false); // never selected: its details show the failure
    return;
  }
  if (isOpen(entry) && asked === traversed) {
    select(id);
    remember(true);
  }
}

// A program's details, asked for once: an open while they are on their way waits for the
// same answer (and so selects only once they are shown); a failure is asked for again.
function loadProgram(id, details, children) {
  const entry = programs.get(id);
  if (!entry.details) {
    details.replaceChildren(h("p", { class: "loading" }, "Loading…"));
    entry.details = nodeOf("Program", id, "program")
      .then((node) => {
        entry.resolved = node;
        details.replaceChildren(...programDetails(entry.program, node, children));
        details.dataset.loaded = "";
      })
      .catch((error) => {
        entry.details = null;
        details.replaceChildren(failure(error));
        throw error;
      });
  }
  return entry.details;
}

function programDetails(program, node, children) {
  const partners = node.partners;
  const places = node.locations;
  return [
    program.description ? h("p", { class: "description" }, program.description) : null,
    program.launchedYear ? h("p", { class: "meta" }, `Launched ${program.launchedYear}`) : null,
    basis(program.provenance),
    quotes(program.citations, "Cited"),
    fieldBases(program.provenance),
    partners.edges.length
      ? [
          h("h5", {}, counted("Partners", partners)),
          h("ul", { class: "partners" }, partners.edges.map(partnerItem)),
        ]
      : h("p", { class: "none" }, "No partners in the documents."),
    places.edges.length
      ? [
          h("h5", {}, counted("Places", places)),
          h(
            "ul",
            { class: "places" },
            places.edges.map((edge) => placeItem(edge, "Why here")),
          ),
        ]
      : h("p", { class: "none" }, "No places in the documents."),
    children.has(program.id)
      ? [h("h5", {}, "Set up under it"), programList(children, program.id)]
      : null,
  ]
    .flat()
    .filter(Boolean);
}

function counted(title, connection) {
  const more = connection.totalCount - connection.edges.length;
  return `${title} (${connection.totalCount}${more > 0 ? `, ${more} not shown` : ""})`;
}

function partnerItem(edge) {
  const partner = edge.node;
  const places = partner.locations;
  return h(
    "li",
    { class: "partner", "data-id": partner.id },
    h("span", { class: "name" }, partner.name),
    partner.shortName ? h("span", { class: "meta" }, ` (${partner.shortName})`) : null,
    basis(edge.provenance, "Why a partner"),
    quotes(edge.citations, "Why a partner"),
    basis(partner.provenance),
    quotes(partner.citations, "About"),
    fieldBases(partner.provenance),
    places.edges.length
      ? h(
          "ul",
          { class: "places" },
          places.edges.map((placed) => placeItem(placed, "Why there")),
        )
      : null,
  );
}

function placeItem(edge, why) {
  const place = edge.node;
  return h(
    "li",
    { class: "place", "data-id": place.id, "data-kind": place.kind },
    h("span", { class: "name" }, placeLabel(place)),
    " ", // (read apart: "South Korea (KR) country", not "(KR)country")
    h("span", { class: "kind" }, kindName(place.kind)),
    basis(edge.provenance, why),
    quotes(edge.citations, why),
    basis(place.provenance),
    fieldBases(place.provenance),
  );
}

// ---- The map ---------------------------------------------------------------------------------

let allPlaces = [];
const countryShapes = new Map(); // alpha-2 code -> path
let world = null;

function drawMap(shapes) {
  world = shapes;
  const map = svg("svg", {
    viewBox: `0 0 ${shapes.width} ${shapes.height}`,
    role: "img",
    "aria-labelledby": "map-caption",
    class: "outline",
  });
  const land = svg("g", { class: "countries" });
  for (const shape of shapes.unnamed) {
    land.append(svg("path", { d: shape.path }, svg("title", {}, shape.name)));
  }
  for (const [code, shape] of Object.entries(shapes.countries)) {
    const path = svg("path", { d: shape.path, "data-code": code }, svg("title", {}, shape.name));
    countryShapes.set(code, path);
    land.append(path);
  }
  map.append(land, svg("g", { class: "dots" }));
  document.getElementById("world").replaceChildren(map);
}

// Marks every place in the graph; the selected program's places stand out.
function markPlaces() {
  const entry = selected ? programs.get(selected) : null;
  const chosen = entry ? placesOf(entry.resolved) : [];
  const codes = new Set(chosen.map((place) => place.countryCode).filter(Boolean));
  const marked = new Set(allPlaces.map((place) => place.countryCode).filter(Boolean));
  for (const [code, path] of countryShapes) {
    path.classList.toggle("marked", marked.has(code));
    path.classList.toggle("selected", codes.has(code));
  }
  const map = document.querySelector("#world svg");
  if (map) {
    map.classList.toggle("has-selection", Boolean(entry));
    drawDots(map.querySelector(".dots"), entry ? chosen : allPlaces, Boolean(entry));
  }
  document.getElementById("map-caption").textContent = entry
    ? `Places of ${programName(entry.program)} and of its partners`
    : "Every place in the graph";
  placeList(entry ? chosen : allPlaces);
}

// A dot per country with cities, at the centre of the country's largest piece.
function drawDots(layer, places, chosen) {
  const cities = new Map();
  for (const place of places) {
    if (place.kind !== "CITY" || !place.countryCode) continue;
    if (!cities.has(place.countryCode)) cities.set(place.countryCode, []);
    cities.get(place.countryCode).push(place.name);
  }
  layer.replaceChildren();
  for (const [code, names] of cities) {
    const shape = world?.countries[code];
    if (!shape) continue;
    const [cx, cy] = shape.centre;
    const attributes = {
      cx,
      cy,
      r: 3.5,
      class: chosen ? "city selected" : "city",
      "data-code": code,
    };
    layer.append(svg("circle", attributes, svg("title", {}, names.join(", "))));
  }
}

function placeList(places) {
  const unique = new Map(places.map((place) => [place.id, place]));
  const items = [...unique.values()]
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name))
    .map((place) => {
      const onMap = place.countryCode && world?.countries[place.countryCode];
      return h(
        "li",
        { "data-id": place.id, class: onMap ? "on-map" : "off-map" },
        placeLabel(place),
        " ",
        h("span", { class: "kind" }, `${kindName(place.kind)}${onMap ? "" : ", not on the map"}`),
        basis(place.provenance),
        quotes(place.citations || [], "Cited"),
        fieldBases(place.provenance),
      );
    });
  document.getElementById("place-list").replaceChildren(...items);
}

function placesOf(node) {
  if (!node) return [];
  return [
    ...node.locations.edges.map((edge) => edge.node),
    ...node.partners.edges.flatMap((edge) =>
      edge.node.locations.edges.map((placed) => placed.node),
    ),
  ];
}

const TITLE = document.title; // the page's own, with no program selected

function select(id) {
  selected = id;
  const entry = id ? programs.get(id) : null;
  for (const item of document.querySelectorAll("li.program.selected"))
    item.classList.remove("selected");
  entry?.item.classList.add("selected");
  markPlaces();
  // the tab and the history's entries name what they show
  const name = entry ? programName(entry.program) : null;
  document.title = name ? `${name} · ${TITLE}` : TITLE;
}

// ---- Links: the selected program in the URL ----------------------------------------------------

// The URL names the selected program by its slug, in the fragment (`#program=<slug>`): the
// API's stable, human-readable key (an ID is that slug encoded, opaque), and a fragment is never
// sent to the server. A slug read from the URL is only looked up among the programs the page was
// sent, so a link naming anything else asks the API for nothing, and it is shown as text only.
// Each selection is a step in the history, kept with the programs then open; Back and Forward
// show each step as it was left.
const LINK = "program";
const slugs = new Map(); // slug -> the id of the program, each program the opening view lists
const lineage = new Map(); // program id -> {slug, parent: the id of its listed parent or null}
let traversed = 0; // the views the history has shown: a load they overtook selects nothing
let toggled = 0; // the user's opens and closes: a view being restored meanwhile stops there
let treeShown = false; // the tree is there to show a view in

function linkTo(id) {
  const slug = id ? lineage.get(id)?.slug : null;
  const fragment = slug ? `#${new URLSearchParams({ [LINK]: slug })}` : "";
  return `${location.pathname}${location.search}${fragment}`;
}

// The view in the history: a new step (the selection changed), or the current one updated.
function remember(step) {
  const open = [...programs].filter(([, entry]) => isOpen(entry)).map(([id]) => id);
  if (step) {
    history.pushState({ open }, "", linkTo(selected));
    linkProblem(null); // about the link left behind
  } else {
    history.replaceState({ open }, "", location.href);
  }
}

// The programs from the top of the tree down to `id` (each under the one before).
function pathTo(id) {
  const path = [];
  for (let at = id; at && !path.includes(at); at = lineage.get(at)?.parent) path.unshift(at);
  return path;
}

// A link naming no program here is said so, as the page says what failed: an alert.
function linkProblem(slug) {
  document.getElementById("link-problem")?.remove();
  if (slug === null) return;
  const words = `The link names a program that is not in the graph: “${shorten(slug, 80)}”.`;
  const alert = h("p", { id: "link-problem", class: "error", role: "alert" }, words);
  document.getElementById("companies").before(alert);
}

// The view the URL names, with the programs the history kept open (if it kept any): on the
// first load, Back and Forward, and a fragment typed in. It adds nothing to the history.
async function restore(state) {
  const shown = ++traversed;
  const clicks = toggled;
  const overtaken = () => shown !== traversed || clicks !== toggled;
  const slug = new URLSearchParams(location.hash.slice(1)).get(LINK) || null;
  const id = slug === null ? null : (slugs.get(slug) ?? null);
  linkProblem(slug !== null && id === null ? slug : null);
  const kept = new Set(Array.isArray(state?.open) ? state.open : []);
  const open = new Set(pathTo(id));
  for (const other of kept) {
    const path = lineage.has(other) ? pathTo(other) : [];
    if (path.every((above) => kept.has(above))) for (const at of path) open.add(at);
  }
  for (const [other, entry] of programs) if (isOpen(entry) && !open.has(other)) show(entry, false);
  if (selected && !open.has(selected)) select(null);
  let loaded = id === null;
  const depth = (other) => pathTo(other).length;
  for (const other of [...open].sort((one, two) => depth(one) - depth(two))) {
    const entry = programs.get(other); // missing: one above it failed to load
    if (!entry) continue;
    if (!isOpen(entry)) show(entry, true);
    try {
      await loadProgram(other, entry.panel, entry.children);
      loaded ||= other === id;
    } catch {
      // its details show the failure
    }
    if (overtaken()) return; // another view asked for meanwhile, or the user chose one
  }
  if (overtaken()) return;
  select(loaded && id !== null && isOpen(programs.get(id)) ? id : null);
  remember(false);
}

window.addEventListener("popstate", (event) => {
  if (treeShown) restore(event.state); // the first load restores the view once the tree is there
});

// ---- A quote in its document -----------------------------------------------------------------

const documents = new Map(); // id -> Promise of the document
let opened = 0; // the quote last opened: a document arriving late for an earlier one is not shown

async function showSource(citation) {
  const shown = ++opened;
  const dialog = document.getElementById("source");
  const text = document.getElementById("source-text");
  if (!dialog.open) dialog.showModal();
  document.getElementById("source-quote").textContent = citation.quote;
  document.getElementById("source-document").textContent = citation.document.title;
  text.replaceChildren(h("p", { class: "loading" }, "Loading the document…"));
  try {
    const doc = await documentOf(citation.document.id);
    if (shown === opened) showDocument(doc, citation);
  } catch (error) {
    // whatever failed, the dialog leaves its loading state
    if (shown === opened) text.replaceChildren(failure(error));
  }
}

// A document asked for once while it loads or has loaded; one that failed is asked for again.
function documentOf(id) {
  if (!documents.has(id)) {
    const loading = nodeOf("Document", id, "document");
    documents.set(id, loading);
    loading.catch(() => {
      if (documents.get(id) === loading) documents.delete(id);
    });
  }
  return documents.get(id);
}

function showDocument(doc, citation) {
  const published = doc.publishedOn ? `, ${doc.publishedOn}` : "";
  document.getElementById("source-document").textContent =
    `${doc.title}: ${doc.publisher}${published}`;
  // Offsets count Unicode code points; JavaScript strings count UTF-16 units.
  const points = Array.from(doc.text);
  const mark = h("mark", {}, points.slice(citation.start, citation.end).join(""));
  const text = document.getElementById("source-text");
  text.replaceChildren(
    points.slice(0, citation.start).join(""),
    mark,
    points.slice(citation.end).join(""),
  );
  text.scrollTop = Math.max(0, mark.offsetTop - text.clientHeight / 3); // the box is its offsetParent
}

// ---- Start -----------------------------------------------------------------------------------

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button.quote");
  if (button && citationOf.has(button)) showSource(citationOf.get(button));
});
document.getElementById("source-close").addEventListener("click", () => {
  document.getElementById("source").close(); // so does Escape
});

// The map loads once, beside the graph; a map that fails to load leaves the tree be.
const shapes = fetch(WORLD)
  .then((response) => {
    if (!response.ok) throw new Error(`the map answered ${response.status}`);
    return response.json();
  })
  .catch((error) => {
    document.getElementById("map-caption").textContent = `No map: ${error.message}`;
    return null;
  });

async function start() {
  const data = await request("Explorer");
  const outline = await shapes;
  if (outline) drawMap(outline);
  allPlaces = data.locations.nodes;
  document.getElementById("companies").replaceChildren(...data.companies.nodes.map(companyView));
  const companies = data.companies.nodes.length;
  const more = data.companies.totalCount - companies;
  status(
    companies
      ? "Expand a program to see its partners and places." +
          (more > 0 ? ` (The first ${companies} companies of ${data.companies.totalCount}.)` : "")
      : "No company in the graph.",
  );
  if (data.locations.totalCount > allPlaces.length) {
    const caption = `The first ${allPlaces.length} of ${data.locations.totalCount} places`;
    if (outline) document.getElementById("map-caption").textContent = caption;
  }
  markPlaces();
  treeShown = true;
  await restore(history.state);
  if (selected) programs.get(selected).item.scrollIntoView({ block: "nearest" });
  document.body.dataset.ready = "";
}

// Nothing to show without the graph: an alert (not a status), with a way to ask again, as a
// 503 says to.
function loadFailed(error) {
  status("");
  const retry = h("button", { type: "button", class: "retry" }, "Try again");
  const failed = h(
    "div",
    { class: "error failure", role: "alert" },
    h("p", {}, `Could not load the graph: ${error.message}`),
    retry,
  );
  retry.addEventListener("click", () => {
    failed.remove();
    load();
  });
  document.getElementById("companies").replaceChildren(failed);
}

function load() {
  status("Loading…");
  start().catch(loadFailed);
}

load();
