// What a frontend writes with the types GraphQL Code Generator made from the committed SDL and
// operations/*.graphql: typed queries through Apollo Client and urql, and code that reads the
// answers. Only type-checked (`tsc --noEmit`, tsconfig.json); each @ts-expect-error line is a
// mistake the types must catch, so types that decayed to `any` fail the check too.
import type { ApolloClient, NormalizedCacheObject } from "@apollo/client/core";
import type { Client } from "@urql/core";

import {
  PartnerByIdDocument,
  PartnersPageDocument,
  SamePartnerDocument,
  TraversalDocument,
  type PartnerByIdQuery,
  type ProgramKind,
  type TraversalQuery,
} from "./generated/graphql";

export interface PartnerCard {
  program: string;
  kind: ProgramKind;
  partner: string;
  countries: string[];
  why: string[];
}

/** The traversal's partners, each with its countries and the quotes that make it a partner.
 * A nested list is null where its arguments were refused (its error is at its path). */
export function partnerCards(data: TraversalQuery): PartnerCard[] {
  return (data.company?.programs?.edges ?? []).flatMap(({ node: program }) =>
    (program.partners?.edges ?? []).map(({ node: partner, citations }) => ({
      program: program.name ?? "(unnamed in the documents)",
      kind: program.kind,
      partner: partner.shortName ?? partner.name,
      countries: (partner.locations?.edges ?? []).flatMap(({ node }) =>
        node.countryCode === null ? [] : [node.countryCode],
      ),
      why: citations.map((citation) => `${citation.quote} (${citation.document.title})`),
    })),
  );
}

/** A W3C Web Annotation target for each quote of the traversal's programs: the selectors'
 * W3C fields as they come, without their cache keys. */
export function annotationTargets(data: TraversalQuery, source: string) {
  return (data.company?.programs?.edges ?? []).flatMap(({ node }) =>
    node.citations.map(({ textQuoteSelector: quote, textPositionSelector: position }) => {
      // @ts-expect-error: a position selector has offsets, not text
      void position.exact;
      const { type, exact, prefix, suffix } = quote;
      return {
        source,
        selector: [
          { type, exact, prefix, suffix },
          { type: position.type, start: position.start, end: position.end },
        ],
      };
    }),
  );
}

/** A partner's description, when the node is a partner. */
export function description(data: PartnerByIdQuery): string | null {
  const node = data.node;
  // @ts-expect-error: the node may be any Node; only a Partner has a description
  void node?.description;
  return node?.__typename === "Partner" ? node.description : null;
}

export async function withApollo(client: ApolloClient<NormalizedCacheObject>): Promise<string[]> {
  const traversal = await client.query({
    query: TraversalDocument,
    variables: { slug: "sony-music" },
  });
  const page = await client.query({ query: PartnersPageDocument, variables: { first: 3 } });
  const after: string | null = page.data.partners.pageInfo.endCursor;
  const next = await client.query({ query: PartnersPageDocument, variables: { first: 3, after } });
  // @ts-expect-error: the traversal needs its slug
  await client.query({ query: TraversalDocument, variables: {} });
  // @ts-expect-error: `first` is an Int
  await client.query({ query: PartnersPageDocument, variables: { first: "3" } });
  // @ts-expect-error: programs are a connection: their items are under edges or nodes
  traversal.data.company?.programs?.map((program: unknown) => program);
  return [
    ...partnerCards(traversal.data).map((card) => card.partner),
    ...next.data.partners.edges.map(({ node }) => node.name),
  ];
}

export async function withUrql(client: Client): Promise<string | null> {
  const same = await client
    .query(SamePartnerDocument, { program: "global-social-justice-fund", location: "south-korea" })
    .toPromise();
  const id = same.data?.location?.partners?.nodes[0]?.id;
  if (id === undefined) return null;
  const refetched = await client.query(PartnerByIdDocument, { id }).toPromise();
  // @ts-expect-error: PartnerById takes `id`, not `slug`
  await client.query(PartnerByIdDocument, { slug: "childfund-korea" }).toPromise();
  return refetched.data ? description(refetched.data) : null;
}
