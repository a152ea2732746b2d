// Package readmecheck holds the test that keeps the Chinese README
// (README.zh-CN.md) in step with README.md: the same headings at the same
// levels, the same code blocks, prose in Chinese, and links between the
// two. When README.md changes, the test names the section or code block
// the translation must follow.
package readmecheck
