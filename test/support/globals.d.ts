// Test-only typing: response bodies read in tests are JSON of known shape, so `Response.json()` gives `any` here.
export {};

declare global {
  interface Response {
    json(): Promise<any>;
  }
}
