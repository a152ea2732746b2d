import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router } from './router'
import { i18n } from './i18n'
import { useAuthStore } from './stores/auth'
import { message } from 'ant-design-vue'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
app.use(router)

const auth = useAuthStore(pinia)
auth.install()
// Any sign of life postpones the idle sign-out.
for (const ev of ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const) {
  window.addEventListener(ev, () => auth.touch(), { passive: true })
}
message.config({ maxCount: 3 })

app.mount('#app')
