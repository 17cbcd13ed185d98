// graphql-http's audits of a server's GraphQL over HTTP (each MUST and SHOULD of the spec it
// knows), run against the server whose /graphql URL is the first argument. Prints one JSON
// line: every audit's id, name, status (ok, warn or error) and reason.
import { serverAudits } from "graphql-http";

const url = process.argv[2];
const audits = [];
for (const audit of serverAudits({ url, fetchFn: fetch })) {
  const result = await audit.fn();
  audits.push({
    id: audit.id,
    name: audit.name,
    status: result.status,
    reason: result.status === "ok" ? null : result.reason,
  });
}
console.log(JSON.stringify({ audits }));
