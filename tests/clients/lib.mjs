// What the client scripts share: the operations as text, a fetch that records what each
// request sent and what came back, and the console warnings a client printed.
import { readFileSync } from "node:fs";

import { buildSchema, isInterfaceType, isObjectType } from "graphql";

const OPERATIONS = new URL("./operations/", import.meta.url);

/** The published SDL, as a frontend's build reads it (GET /graphql/schema.graphql). */
export const sdl = readFileSync(new URL("../../schema/schema.graphql", import.meta.url), "utf8");
const schema = buildSchema(sdl);

/**
 * The object types of the published SDL without an `id` (connections, edges, page infos,
 * provenance, search hits): a normalised cache embeds them in their parent, so the README's
 * set-ups name them (Apollo: merged field by field; graphcache: keyed by none).
 */
export function unkeyedTypes() {
  return Object.values(schema.getTypeMap())
    .filter((type) => isObjectType(type) && !type.name.startsWith("__") && type.name !== "Query")
    .filter((type) => !("id" in type.getFields()))
    .map((type) => type.name);
}

/** Apollo's `possibleTypes` from the SDL: the types implementing each interface. */
export function possibleTypes() {
  return Object.fromEntries(
    Object.values(schema.getTypeMap())
      .filter(isInterfaceType)
      .map((type) => [type.name, schema.getPossibleTypes(type).map((each) => each.name)]),
  );
}

/** The text of operations/NAME.graphql, the document Python's gql and codegen read too. */
export function operation(name) {
  return readFileSync(new URL(`${name}.graphql`, OPERATIONS), "utf8");
}

/**
 * Node's global fetch, recording each request: its operation, whether it carried the document
 * or only the persisted-query hash, and the error codes of the answer.
 */
export function recordingFetch() {
  const requests = [];
  const record = async (input, init = {}) => {
    const url = new URL(String(input));
    const sent = init.body
      ? JSON.parse(init.body)
      : {
          operationName: url.searchParams.get("operationName"),
          query: url.searchParams.get("query"),
          extensions: JSON.parse(url.searchParams.get("extensions") || "null"),
        };
    const response = await fetch(input, init);
    const answer = await response.clone().json();
    requests.push({
      method: init.method || "GET",
      operationName: sent.operationName ?? null,
      withQuery: typeof sent.query === "string" && sent.query.length > 0,
      hash: sent.extensions?.persistedQuery?.sha256Hash ?? null,
      status: response.status,
      codes: (answer.errors || []).map((error) => error.extensions?.code ?? error.message),
    });
    return response;
  };
  return { fetch: record, requests };
}

/** Everything written to console.warn and console.error from now on (still printed to stderr). */
export function capturedWarnings() {
  const warnings = [];
  for (const level of ["warn", "error"]) {
    const original = console[level];
    console[level] = (...args) => {
      warnings.push(args.map(String).join(" "));
      original(...args);
    };
  }
  return warnings;
}

/** The one line the pytest side reads: the last line of stdout. */
export function report(value) {
  process.stdout.write(`\n${JSON.stringify(value)}\n`);
}
