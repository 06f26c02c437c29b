import type { DeployPath } from '../../../server/admin/host-api.ts';

/**
 * The bundle README's deploy sections ("## On a VM with Docker Compose", "## On ECS Fargate…",
 * "## On Kubernetes"), each up to the next second-level heading: what the app shows as next steps,
 * taken from the README itself so the two cannot say different things.
 */
export function deployPaths(readme: string): DeployPath[] {
  const paths: DeployPath[] = [];
  let current: { title: string; lines: string[] } | null = null;
  let inFence = false;
  const close = () => {
    if (current) paths.push({ title: current.title, text: current.lines.join('\n').trim() });
    current = null;
  };
  for (const line of readme.split('\n')) {
    // A `## ` inside a code block is not a heading.
    if (line.startsWith('```')) inFence = !inFence;
    const heading = !inFence && /^## (.+)$/.exec(line);
    if (heading) {
      close();
      if (heading[1]!.startsWith('On ')) current = { title: heading[1]!.trim(), lines: [] };
      continue;
    }
    current?.lines.push(line);
  }
  close();
  return paths;
}
