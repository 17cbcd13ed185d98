// Apollo Client 3.14 against a running server, as a frontend sets it up: the normalised
// InMemoryCache (relay-style pagination on Query.partners), the automatic persisted-query link
// (SHA-256 from node:crypto) and an HttpLink over Node's global fetch, recorded request by
// request. Prints what tests/test_clients.py checks as JSON on the last line of stdout.
// Usage: node apollo.mjs URL
import { createHash } from "node:crypto";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { relayStylePagination } from "@apollo/client/utilities/index.js";

import {
  capturedWarnings,
  operation,
  possibleTypes,
  recordingFetch,
  report,
  unkeyedTypes,
} from "./lib.mjs";

const [url] = process.argv.slice(2);
const warnings = capturedWarnings();
const { fetch, requests } = recordingFetch();

const sha256 = (query) => createHash("sha256").update(query).digest("hex");

function newClient() {
  return new ApolloClient({
    cache: new InMemoryCache({
      typePolicies: {
        // objects without an id merge field by field (the README's set-up)
        ...Object.fromEntries(unkeyedTypes().map((name) => [name, { merge: true }])),
        Query: { fields: { partners: relayStylePagination() } },
      },
      possibleTypes: possibleTypes(), // fragments on interfaces (`... on Cited`) match by them
    }),
    // hash-only requests as GETs, which browsers and CDNs can cache (the README's set-up)
    link: createPersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
      new HttpLink({ uri: url, fetch }),
    ),
  });
}

const Traversal = gql(operation("Traversal"));
const PartnerById = gql(operation("PartnerById"));
const SamePartner = gql(operation("SamePartner"));
const PartnersPage = gql(operation("PartnersPage"));

const partnerKeys = (cache) => Object.keys(cache.extract()).filter((key) => key.startsWith("Partner:"));

// The traversal, then the same query again from the network: the second is hash-only.
const client = newClient();
const traversal = await client.query({ query: Traversal, variables: { slug: "sony-music" } });
const again = await client.query({
  query: Traversal,
  variables: { slug: "sony-music" },
  fetchPolicy: "network-only",
});
const partnersAfterTraversal = partnerKeys(client.cache);
const afterTraversal = client.cache.extract();
const selectors = Object.fromEntries(
  Object.entries(afterTraversal).filter(([key]) => /^Text(Quote|Position)Selector:/.test(key)),
);
const citationEntries = Object.fromEntries(
  Object.entries(afterTraversal).filter(([key]) => key.startsWith("Citation:")),
);

// Refetch one partner of the traversal by node(id:), asking a field the traversal did not.
const partner = traversal.data.company.programs.edges
  .flatMap((edge) => edge.node.partners.edges)
  .find((edge) => edge.node.name === "ChildFund Korea").node;
const key = `Partner:${partner.id}`;
const entryBefore = client.cache.extract()[key];
const refetched = await client.query({
  query: PartnerById,
  variables: { id: partner.id },
  fetchPolicy: "network-only",
});
const extracted = client.cache.extract();

// Two pages of partners through fetchMore, merged by relayStylePagination.
const pages = client.watchQuery({ query: PartnersPage, variables: { first: 3 } });
const firstPage = await new Promise((resolve, reject) => {
  const subscription = pages.subscribe({
    next: (result) => {
      if (!result.loading) {
        resolve(result);
        setTimeout(() => subscription.unsubscribe(), 0);
      }
    },
    error: reject,
  });
});
const secondPage = await pages.fetchMore({
  variables: { after: firstPage.data.partners.pageInfo.endCursor },
});
const merged = client.readQuery({ query: PartnersPage, variables: { first: 3 } });

// The same partner by two paths, in a cache of its own.
const twoPaths = newClient();
const same = await twoPaths.query({
  query: SamePartner,
  variables: { program: "global-social-justice-fund", location: "south-korea" },
});
const twoPathsCache = twoPaths.cache.extract();

// A program's card, then its page: other fields of the same objects without an id. The card
// is read back whole from the cache.
const ProgramBasis = gql(operation("ProgramBasis"));
const ProgramNotes = gql(operation("ProgramNotes"));
const cards = newClient();
const program = { slug: "global-social-justice-fund" };
await cards.query({ query: ProgramBasis, variables: program });
const notes = await cards.query({ query: ProgramNotes, variables: program });
const cardAfterPage = cards.readQuery({ query: ProgramBasis, variables: program });

// A node through an interface's fragment (`... on Cited`), then read back from the cache.
const CitedNode = gql(operation("CitedNode"));
const interfaces = newClient();
const programId = traversal.data.company.programs.edges[0].node.id;
const cited = await interfaces.query({ query: CitedNode, variables: { id: programId } });
const citedFromCache = interfaces.readQuery({ query: CitedNode, variables: { id: programId } });

report({
  cited: { network: cited.data, cache: citedFromCache },
  cardAfterPage,
  notes: notes.data,
  traversal: traversal.data,
  again: again.data,
  partnersAfterTraversal,
  selectors,
  citationEntries,
  refetch: {
    id: partner.id,
    name: partner.name,
    key,
    entryBefore,
    entryAfter: extracted[key],
    node: refetched.data.node,
    rootField: extracted.ROOT_QUERY[`node({"id":"${partner.id}"})`],
    partnerKeys: Object.keys(extracted).filter((k) => k.startsWith("Partner:")),
  },
  pages: {
    first: firstPage.data.partners,
    second: secondPage.data.partners,
    merged: merged.partners,
  },
  samePartner: {
    data: same.data,
    partnerKeys: Object.keys(twoPathsCache).filter((k) => k.startsWith("Partner:")),
    entries: Object.fromEntries(
      Object.entries(twoPathsCache).filter(([k]) => k.startsWith("Partner:")),
    ),
    program: twoPathsCache[`Program:${same.data.program.id}`],
    location: twoPathsCache[`Location:${same.data.location.id}`],
  },
  requests,
  warnings,
});
