// The settings each provider kind takes, so an account's form asks for the
// right ones. Secret fields are write-only: the API answers them masked.

export interface ProviderField {
  key: string
  type: 'text' | 'secret' | 'number' | 'bool' | 'textarea'
  required?: boolean
  placeholder?: string
}

const unknownOutcome: ProviderField = { key: 'on_unknown_outcome', type: 'text', placeholder: 'fail | resend' }

export const PROVIDER_FIELDS: Record<string, ProviderField[]> = {
  sandbox: [
    { key: 'latency_ms', type: 'number' },
    { key: 'failure_rate', type: 'number', placeholder: '0 – 1' },
    { key: 'failure_class', type: 'text' },
    { key: 'failure_code', type: 'text' },
    { key: 'receipt_delay_ms', type: 'number' },
    { key: 'receipt_failure_rate', type: 'number', placeholder: '0 – 1' },
    { key: 'no_receipt_rate', type: 'number', placeholder: '0 – 1' },
  ],
  aliyun: [
    { key: 'access_key_id', type: 'text', required: true },
    { key: 'access_key_secret', type: 'secret', required: true },
    { key: 'sign_name', type: 'text' },
    { key: 'region', type: 'text' },
    { key: 'endpoint', type: 'text' },
    { key: 'timeout_seconds', type: 'number' },
  ],
  tencent: [
    { key: 'secret_id', type: 'text', required: true },
    { key: 'secret_key', type: 'secret', required: true },
    { key: 'sdk_app_id', type: 'text', required: true },
    { key: 'sign_name', type: 'text' },
    { key: 'region', type: 'text' },
    { key: 'endpoint', type: 'text' },
    { key: 'timeout_seconds', type: 'number' },
  ],
  zrwinfo: [
    { key: 'access_key', type: 'text', required: true },
    { key: 'secret', type: 'secret', required: true },
    { key: 'sign_name', type: 'text' },
    { key: 'base_url', type: 'text' },
    { key: 'timeout_seconds', type: 'number' },
    { key: 'batch_size', type: 'number' },
    unknownOutcome,
  ],
  smtp: [
    { key: 'host', type: 'text', required: true },
    { key: 'port', type: 'number' },
    { key: 'username', type: 'text' },
    { key: 'password', type: 'secret' },
    { key: 'from', type: 'text', required: true },
    { key: 'from_name', type: 'text' },
    { key: 'tls_mode', type: 'text', placeholder: 'starttls | tls | none' },
    { key: 'tls_server_name', type: 'text' },
    { key: 'ca_pem', type: 'textarea' },
    { key: 'timeout_seconds', type: 'number' },
    unknownOutcome,
  ],
  wechatwork: [
    { key: 'corp_id', type: 'text', required: true },
    { key: 'corp_secret', type: 'secret', required: true },
    { key: 'agent_id', type: 'number', required: true },
    { key: 'base_url', type: 'text' },
    { key: 'timeout_seconds', type: 'number' },
  ],
  wechatwork_robot: [
    { key: 'webhook_url', type: 'secret', required: true },
    { key: 'base_url', type: 'text' },
    { key: 'timeout_ms', type: 'number' },
    unknownOutcome,
  ],
  dingtalk: [
    { key: 'access_token', type: 'secret' },
    { key: 'webhook_url', type: 'secret' },
    { key: 'secret', type: 'secret' },
    { key: 'base_url', type: 'text' },
    { key: 'timeout_ms', type: 'number' },
    unknownOutcome,
  ],
  feishu: [
    { key: 'webhook_url', type: 'secret' },
    { key: 'hook_id', type: 'secret' },
    { key: 'secret', type: 'secret' },
    { key: 'base_url', type: 'text' },
    { key: 'timeout_ms', type: 'number' },
    unknownOutcome,
  ],
  webhook: [
    { key: 'url', type: 'text', required: true },
    { key: 'secret', type: 'secret', required: true },
    { key: 'timeout_ms', type: 'number' },
    unknownOutcome,
  ],
}

export const PROVIDER_KINDS = Object.keys(PROVIDER_FIELDS)

// The config object a form's values make: empty fields are left out and
// numbers are numbers.
export function configFromForm(kind: string, values: Record<string, string | number | boolean | null>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of PROVIDER_FIELDS[kind] ?? []) {
    const v = values[f.key]
    if (v === undefined || v === null || v === '') continue
    if (f.type === 'number') {
      const n = Number(v)
      if (!Number.isNaN(n)) out[f.key] = n
    } else if (f.type === 'bool') {
      out[f.key] = Boolean(v)
    } else {
      out[f.key] = String(v)
    }
  }
  return out
}

// Parses "key=value" lines (template parameters of a test message).
export function parseParams(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\n/)) {
    const i = line.indexOf('=')
    if (i <= 0) continue
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim()
  }
  return out
}
