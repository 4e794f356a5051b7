// 一件事一次办 on the help page: the package's name and every item handled with this request.
import { get } from './api.js';
import { t, getLang } from './i18n.js';

/** Shows page.packageCode's package under the item's name; forgets an unknown or retired one. */
export async function renderPackage(page) {
  const el = document.getElementById('item-package');
  if (!page.packageCode || !el) return;
  try {
    const pkg = await get(`/api/help/packages/${encodeURIComponent(page.packageCode)}`);
    const en = getLang() === 'en';
    const names = pkg.items.map((i) => (en && i.name_en) || i.name).join(en ? ', ' : '、');
    el.replaceChildren(...[t('help.package', { name: (en && pkg.name_en) || pkg.name }), t('help.package_items', { items: names })]
      .map((text) => Object.assign(document.createElement('span'), { textContent: text })));
    el.hidden = false;
  } catch { page.packageCode = ''; } // help for the item alone
}
