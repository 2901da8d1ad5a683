import { randomUUID } from 'node:crypto';

/**
 * A generated shop audience for the demo: each shopper walks through a small life — browses anonymously, signs up
 * (most with a marketing opt-in that still needs its double opt-in, some without any consent), fills carts, orders
 * or leaves the cart, and some go quiet for good. The events are Segment tracking-spec events with the names and
 * properties the example definitions use (Signed Up, Subscribed, Cart Updated with the cart's products, Order
 * Completed with cartId, revenue and currency CHF).
 */
export interface Shopper {
  index: number;
  anonymousId: string;
  userId: string;
  firstName: string;
  email: string;
  stage: 'browsing' | 'member' | 'quiet';
  /** Asks for marketing mail when signing up (the rest never consent). */
  optsIn: boolean;
  /** Spends big: a few orders cross the CHF 5,000 thank-you. */
  bigSpender: boolean;
  cart?: { cartId: string; products: CartLine[] };
  /** The shopper orders the current cart at this time, if at all (else the cart is abandoned). */
  ordersAt?: number;
  timeZone: string;
}

interface CartLine {
  product_id: string;
  name: string;
  price: number;
  quantity: number;
  url: string;
  imageUrl: string;
}

const CATALOGUE = [
  { product_id: 'p-espresso', name: 'Espresso machine', price: 449 },
  { product_id: 'p-grinder', name: 'Burr grinder', price: 189 },
  { product_id: 'p-beans', name: 'Single-origin beans 1 kg', price: 42.5 },
  { product_id: 'p-kettle', name: 'Gooseneck kettle', price: 79.9 },
  { product_id: 'p-scale', name: 'Brew scale', price: 55 },
  { product_id: 'p-roaster', name: 'Home roaster', price: 2890 },
];
const FIRST_NAMES = ['Anna', 'Luca', 'Mia', 'Noah', 'Lea', 'Elias', 'Sophie', 'Jonas', 'Emma', 'Matteo'];
const TIME_ZONES = ['Europe/Zurich', 'Europe/Berlin', 'Europe/Vienna'];

export function createAudience(size: number, random: () => number = Math.random): Shopper[] {
  return Array.from({ length: size }, (_, index) => {
    const firstName = FIRST_NAMES[index % FIRST_NAMES.length];
    return {
      index,
      anonymousId: randomUUID(),
      userId: `customer-${index}`,
      firstName,
      email: `${firstName.toLowerCase()}.${index}@example.com`,
      stage: 'browsing',
      optsIn: random() < 0.8,
      bigSpender: random() < 0.05,
      timeZone: TIME_ZONES[index % TIME_ZONES.length],
    };
  });
}

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)];

/** The shopper's next events at `now` (often one, several when an action is a pair such as sign-up). */
export function nextEvents(shopper: Shopper, now: number, random: () => number = Math.random): Array<Record<string, unknown>> {
  // The events of one action are a millisecond apart, in the order they happened, as an SDK stamps them: identity
  // orders events of one request by their time, so equal stamps would leave the order to their ids.
  let tick = 0;
  const event = (fields: Record<string, unknown>): Record<string, unknown> => ({
    messageId: randomUUID(),
    anonymousId: shopper.anonymousId,
    ...(shopper.stage === 'browsing' ? {} : { userId: shopper.userId }),
    timestamp: new Date(now + tick++).toISOString(),
    sentAt: new Date(now).toISOString(),
    context: {
      library: { name: 'kairos-demo', version: '2' },
      userAgent: 'Mozilla/5.0 (kairos demo)',
      ip: `198.51.100.${(shopper.index % 250) + 1}`,
      timezone: shopper.timeZone,
      locale: 'de-CH',
      page: { url: 'https://shop.example/' },
    },
    ...fields,
  });
  if (shopper.stage === 'quiet') return [];
  if (shopper.cart && shopper.ordersAt !== undefined && now >= shopper.ordersAt) return [order(shopper, event)];
  const roll = random();
  if (shopper.stage === 'browsing') {
    if (roll < 0.25) return signUp(shopper, now, event);
    return [browse(shopper, event, random)];
  }
  if (roll < 0.03) {
    shopper.stage = 'quiet'; // never heard of again: the win-back's audience
    return [];
  }
  if (roll < 0.35) return [updateCart(shopper, now, event, random)];
  return [browse(shopper, event, random)];
}

type MakeEvent = (fields: Record<string, unknown>) => Record<string, unknown>;

function browse(shopper: Shopper, event: MakeEvent, random: () => number): Record<string, unknown> {
  if (random() < 0.5) return event({ type: 'page', name: pick(['Home', 'Category', 'Journal'], random), properties: { path: '/' } });
  const product = pick(CATALOGUE, random);
  return event({ type: 'track', event: 'Product Viewed', properties: { ...product, currency: 'CHF' } });
}

function signUp(shopper: Shopper, now: number, event: MakeEvent): Array<Record<string, unknown>> {
  shopper.stage = 'member';
  // Born on today's date where the shopper lives (the birthday journey reads it in that time zone), 1980-2009.
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: shopper.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const birthday = `${1980 + (shopper.index % 30)}${today.slice(4)}`;
  const identify = event({
    type: 'identify',
    userId: shopper.userId,
    traits: { email: shopper.email, firstName: shopper.firstName, birthday, signedUpAt: new Date(now).toISOString() },
  });
  // The cookie banner's answer travels with the sign-up (Segment's consent object).
  (identify['context'] as Record<string, unknown>)['consent'] = { categoryPreferences: { marketing: shopper.optsIn, analytics: true } };
  const events = [identify, event({ type: 'track', userId: shopper.userId, event: 'Signed Up', properties: { method: 'email' } })];
  if (shopper.optsIn) {
    events.push(event({ type: 'track', userId: shopper.userId, event: 'Subscribed', properties: { channel: 'email', purpose: 'marketing', wording: 'Yes, send me news and offers by e-mail.', formVersion: 'signup-2026-10' } }));
  }
  return events;
}

function updateCart(shopper: Shopper, now: number, event: MakeEvent, random: () => number): Record<string, unknown> {
  if (!shopper.cart) shopper.cart = { cartId: randomUUID(), products: [] };
  const product = shopper.bigSpender ? CATALOGUE[CATALOGUE.length - 1] : pick(CATALOGUE.slice(0, -1), random);
  const line = shopper.cart.products.find((existing) => existing.product_id === product.product_id);
  if (line) line.quantity += 1;
  else shopper.cart.products.push({ ...product, quantity: 1, url: `https://shop.example/p/${product.product_id}`, imageUrl: `https://shop.example/img/${product.product_id}.jpg` });
  // Six in ten carts are ordered, most of them quickly; the rest are left behind for the reminder.
  shopper.ordersAt = random() < 0.6 ? now + Math.round(500 + random() * 2_500) : undefined;
  return event({ type: 'track', event: 'Cart Updated', properties: { cartId: shopper.cart.cartId, currency: 'CHF', products: shopper.cart.products } });
}

function order(shopper: Shopper, event: MakeEvent): Record<string, unknown> {
  const cart = shopper.cart ?? { cartId: randomUUID(), products: [] };
  shopper.cart = undefined;
  shopper.ordersAt = undefined;
  const revenue = Math.round(cart.products.reduce((sum, line) => sum + line.price * line.quantity, 0) * 100) / 100;
  return event({ type: 'track', event: 'Order Completed', properties: { order_id: randomUUID(), cartId: cart.cartId, currency: 'CHF', revenue, products: cart.products } });
}
