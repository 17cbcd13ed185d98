// urql 6 against a running server, as a frontend sets it up: graphcache keying every entity by
// its `id` (`keys` says the types without one are embedded), told the schema (from the SDL) for
// fragments on interfaces, relayPagination on Query.partners, automatic persisted queries
// (urql's defaults: GET within the URL limit), over Node's global fetch, recorded request by
// request. graphcache warns on console.warn (an entity without a key, a fragment matched by
// guess): every warning is reported. Prints what tests/test_clients.py checks as
// JSON on the last line of stdout. Usage: node urql.mjs URL
import { Client, fetchExchange, gql } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { relayPagination } from "@urql/exchange-graphcache/extras";
import { persistedExchange } from "@urql/exchange-persisted";
import { getIntrospectedSchema, minifyIntrospectionQuery } from "@urql/introspection";

import { capturedWarnings, operation, recordingFetch, report, sdl, unkeyedTypes } from "./lib.mjs";

const [url] = process.argv.slice(2);
const warnings = capturedWarnings();
const { fetch, requests } = recordingFetch();

// graphcache hands its cache to `updates` callbacks, which run just after a field is written
// (and only there may it be read). These two only look, so the test can see inside the cache;
// keys and every other resolver stay graphcache's defaults.
const looks = {};
const entityFields = (cache, entity) =>
  cache.inspectFields(entity).map((field) => field.fieldKey);
const partnersOf = (cache, entity) =>
  cache.resolve(cache.resolve(entity, "partners"), "nodes");
const updates = {
  Query: {
    // PartnerById: which entry the refetched partner went to, and what that entry now holds
    node: (result, args, cache) => {
      if (result.node.__typename !== "Partner") return; // (CitedNode's program)
      const entity = { __typename: result.node.__typename, id: args.id };
      looks.refetch = {
        key: cache.keyOfEntity(entity),
        rootField: cache.resolve("Query", "node", args),
        fields: entityFields(cache, entity),
      };
    },
    // SamePartner (program is written before location): what both paths link to
    location: (result, _args, cache) => {
      if (!result.program) return;
      const partner = result.location.partners.nodes[0];
      looks.samePartner = {
        key: cache.keyOfEntity(partner),
        programPartners: partnersOf(cache, { __typename: "Program", id: result.program.id }),
        locationPartners: partnersOf(cache, { __typename: "Location", id: result.location.id }),
        fields: entityFields(cache, partner),
      };
    },
  },
};

const client = new Client({
  url,
  fetch,
  exchanges: [
    cacheExchange({
      // the schema, for fragments on interfaces (`... on Cited`); else matched by guess
      schema: minifyIntrospectionQuery(getIntrospectedSchema(sdl)),
      // objects without an id are embedded in their parent (the README's set-up)
      keys: Object.fromEntries(unkeyedTypes().map((name) => [name, () => null])),
      resolvers: { Query: { partners: relayPagination() } },
      updates,
    }),
    persistedExchange(),
    fetchExchange,
  ],
});

const Traversal = gql(operation("Traversal"));
const PartnerById = gql(operation("PartnerById"));
const SamePartner = gql(operation("SamePartner"));
const PartnersPage = gql(operation("PartnersPage"));

async function run(query, variables, context) {
  const result = await client.query(query, variables, context).toPromise();
  if (result.error) throw result.error;
  return result.data;
}

// The traversal, then the same query again from the network: the second is hash-only.
const traversal = await run(Traversal, { slug: "sony-music" });
const again = await run(Traversal, { slug: "sony-music" }, { requestPolicy: "network-only" });

// Refetch one partner of the traversal by node(id:), asking a field the traversal did not.
const partner = traversal.company.programs.edges
  .flatMap((edge) => edge.node.partners.edges)
  .find((edge) => edge.node.name === "ChildFund Korea").node;
const refetched = await run(PartnerById, { id: partner.id }, { requestPolicy: "network-only" });

// Two pages of partners; relayPagination answers the second with both pages merged.
const firstPage = await run(PartnersPage, { first: 3 });
const merged = await run(PartnersPage, {
  first: 3,
  after: firstPage.partners.pageInfo.endCursor,
});

// The same partner by two paths.
const same = await run(SamePartner, {
  program: "global-social-justice-fund",
  location: "south-korea",
});

// Search hits and a provenance: objects without an id, embedded.
const hits = await run(gql(operation("SearchHits")), { text: "refugees" });

// A node through an interface's fragment (`... on Cited`), then from the cache alone.
const CitedNode = gql(operation("CitedNode"));
const programId = traversal.company.programs.edges[0].node.id;
const cited = await run(CitedNode, { id: programId }, { requestPolicy: "network-only" });
const citedFromCache = await run(CitedNode, { id: programId }, { requestPolicy: "cache-only" });

report({
  cited: { network: cited, cache: citedFromCache },
  hits,
  traversal,
  again,
  refetch: { id: partner.id, name: partner.name, node: refetched.node, ...looks.refetch },
  pages: { first: firstPage.partners, merged: merged.partners },
  samePartner: { data: same, ...looks.samePartner },
  requests,
  warnings,
});
