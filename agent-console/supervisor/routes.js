// Every server route the supervisor view calls, in one place (docs/console.md lists them).
const q = (params) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') s.set(k, v);
  const text = s.toString();
  return text ? `?${text}` : '';
};
const wo = (id) => `/api/workorders/${encodeURIComponent(id)}`;

export const routes = {
  session: '/api/auth/session', // {staff: profile | null}: no 401 for a visitor not logged in
  logout: '/api/auth/logout',
  units: '/api/org/units',
  workOrder: wo,
  figures: (p) => `/api/stats/figures${q(p)}`,
  figuresCsv: (p) => `/api/stats/figures.csv${q(p)}`,
  unresolved: (p = {}) => `/api/stats/unresolved${q(p)}`,
  items: '/api/items',
  report: (p) => `/api/followups/report${q(p)}`,
  reportCsv: (p) => `/api/followups/report.csv${q(p)}`,
  notifications: (p = {}) => `/api/notifications${q(p)}`,
  notificationRead: (id) => `/api/notifications/${encodeURIComponent(id)}/read`,
  notificationsReadAll: '/api/notifications/read-all',
  claim: (id) => `${wo(id)}/claim`,
  note: (id) => `${wo(id)}/notes`,
  callBack: (id) => `${wo(id)}/call-back`,
  resolve: (id) => `${wo(id)}/resolve`,
  reassign: (id) => `${wo(id)}/reassign`,
};
