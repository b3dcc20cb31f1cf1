// Runs one AG-UI run with the official client's HttpAgent and prints what it saw as JSON.
// Usage: node run.mjs <url> <token> <threadId> <runId> <message> [approve|reject]
// With approve or reject, each interrupt the run ends with is answered so, by the client's
// own buildResumeArray, in a next run (<runId>-resume-1, -2, ...) on the same agent, until a
// run ends without one; "runs" then lists what each run saw.
import { HttpAgent, buildResumeArray } from "@ag-ui/client";

const [url, token, threadId, runId, message, answer] = process.argv.slice(2);
const agent = new HttpAgent({
  url,
  headers: { Authorization: `Bearer ${token}` },
  threadId,
});
agent.addMessage({ id: "user-1", role: "user", content: message });

async function run(parameters) {
  const events = [];
  let outcome = null;
  const { result, newMessages } = await agent.runAgent(parameters, {
    onEvent: ({ event }) => {
      events.push(event);
    },
    onRunFinishedEvent: (params) => {
      outcome = params.outcome;
    },
    onRunErrorEvent: ({ event }) => {
      outcome = `error: ${event.message}`;
    },
  });
  return { events, outcome, result: result ?? null, newMessages };
}

const runs = [await run({ runId })];
while (answer && runs.at(-1).outcome === "interrupt" && runs.length < 10) {
  const payload = { approved: answer === "approve" };
  const responses = Object.fromEntries(
    agent.pendingInterrupts.map((i) => [i.id, { status: "resolved", payload }]),
  );
  const resume = buildResumeArray(agent.pendingInterrupts, responses);
  runs.push(await run({ runId: `${runId}-resume-${runs.length}`, resume }));
}
process.stdout.write(
  JSON.stringify({ ...runs[0], runs, messages: agent.messages, pending: agent.pendingInterrupts }),
);
