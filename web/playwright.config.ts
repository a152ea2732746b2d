import { defineConfig } from '@playwright/test'

// Runs against a live Herald: HERALD_CONSOLE_URL names the console, and the
// browser is the system Chromium (nothing is downloaded).
export default defineConfig({
  testDir: './e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: process.env.HERALD_SCREENSHOT_DIR ? `${process.env.HERALD_SCREENSHOT_DIR}/playwright` : 'test-results',
  use: {
    baseURL: process.env.HERALD_CONSOLE_URL || 'http://127.0.0.1:5173/console/',
    viewport: { width: 1280, height: 800 },
    actionTimeout: 20_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: process.env.HERALD_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
})
