// GraphQL Code Generator: TypeScript types and typed documents for operations/*.graphql,
// from the committed SDL. tests/test_clients.py runs it, then `tsc --noEmit` over typed.ts.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema/schema.graphql",
  documents: "operations/*.graphql",
  generates: {
    "generated/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: { strictScalars: true, scalars: { Date: "string" }, useTypeImports: true },
    },
  },
  silent: true,
};

export default config;
