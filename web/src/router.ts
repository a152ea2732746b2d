import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import type { Role } from './api/types'
import { useAuthStore } from './stores/auth'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    minRole?: Role
    titleKey?: string
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue'), meta: { public: true } },
  {
    path: '/',
    component: () => import('./layouts/ConsoleLayout.vue'),
    children: [
      { path: '', name: 'overview', component: () => import('./views/OverviewView.vue'), meta: { titleKey: 'nav.overview' } },
      { path: 'messages', name: 'messages', component: () => import('./views/MessagesView.vue'), meta: { titleKey: 'nav.messages' } },
      { path: 'batches', name: 'batches', component: () => import('./views/BatchesView.vue'), meta: { titleKey: 'nav.batches' } },
      { path: 'apps', name: 'apps', component: () => import('./views/AppsView.vue'), meta: { titleKey: 'nav.apps' } },
      { path: 'channels', name: 'channels', component: () => import('./views/ChannelsView.vue'), meta: { titleKey: 'nav.channels' } },
      { path: 'channels/:id', name: 'channel', component: () => import('./views/ChannelDetailView.vue'), meta: { titleKey: 'nav.channels' } },
      { path: 'accounts', name: 'accounts', component: () => import('./views/AccountsView.vue'), meta: { titleKey: 'nav.accounts' } },
      { path: 'accounts/:id', name: 'account', component: () => import('./views/AccountDetailView.vue'), meta: { titleKey: 'nav.accounts' } },
      { path: 'templates', name: 'templates', component: () => import('./views/TemplatesView.vue'), meta: { titleKey: 'nav.templates' } },
      { path: 'rules', name: 'rules', component: () => import('./views/RulesView.vue'), meta: { titleKey: 'nav.rules' } },
      { path: 'audit', name: 'audit', component: () => import('./views/AuditView.vue'), meta: { titleKey: 'nav.audit', minRole: 'operator' } },
      { path: 'users', name: 'users', component: () => import('./views/UsersView.vue'), meta: { titleKey: 'nav.users', minRole: 'admin' } },
    ],
  },
  { path: '/:rest(.*)*', redirect: '/' },
]

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes,
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  await auth.init()
  if (to.meta.public) {
    if (to.name === 'login' && auth.signedIn) return { name: 'overview' }
    return true
  }
  if (!auth.signedIn) {
    return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  }
  if (to.meta.minRole && !auth.hasRole(to.meta.minRole)) return { name: 'overview' }
  return true
})
