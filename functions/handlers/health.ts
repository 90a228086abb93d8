/** GET /health — answers 200 without touching any dependency, for load balancers and uptime checks. */
export const handler = async () => ({
  statusCode: 200,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ status: "ok", service: "wallet-messaging" }),
});
