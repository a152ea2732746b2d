// The {{variable}} placeholders a template's text uses, in first-use order.
export function usedVariables(...texts: string[]): string[] {
  const seen = new Set<string>()
  const re = /\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g
  for (const text of texts) {
    for (const m of text.matchAll(re)) seen.add(m[1])
  }
  return [...seen]
}

// Compares the placeholders used with the variables declared: the API
// refuses a template unless they are the same set.
export function checkVariables(declared: string[], used: string[]): { undeclared: string[]; unused: string[] } {
  const d = new Set(declared)
  const u = new Set(used)
  return {
    undeclared: used.filter((v) => !d.has(v)),
    unused: declared.filter((v) => !u.has(v)),
  }
}
