// PostGraphile 4.14 as its docs recommend for production ("Recommended options: For
// Production"), minus subscriptions (nothing here subscribes) and the simplify-inflector
// plugin (the benchmark uses the default field names). Loopback only.
// Usage: node postgraphile4.cjs CONNECTION_STRING PORT
"use strict";
const http = require("node:http");
const { postgraphile } = require("postgraphile4");

const [connectionString, port] = process.argv.slice(2);
const middleware = postgraphile(connectionString, "public", {
  watchPg: false,
  graphiql: false,
  enhanceGraphiql: false,
  disableQueryLog: true,
  retryOnInitFail: false,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  ignoreRBAC: false,
  extendedErrors: ["errcode"],
  enableQueryBatching: true,
  legacyRelations: "omit",
  graphqlRoute: "/graphql",
});
const server = http.createServer(middleware);
server.on("error", (error) => {
  console.error(error);
  process.exit(1);
});
server.listen(Number(port), "127.0.0.1");
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
