"""Run a sweep on a SLURM cluster through dask-jobqueue (``pip install -e '.[slurm]'``).

    python configs/slurm/jobqueue_cluster.py configs/ncx_reversal_3d.yaml --jobs 8

Each SLURM job starts one dask worker process; the driver (this script) writes the
store template, sends blocks to the workers and consolidates at the end. With
``--local N`` the same code runs on a LocalCluster of N workers instead (handy
for trying it out, and how the test suite checks it).
"""

from __future__ import annotations

import argparse

import sweep


def make_cluster(jobs: int, local: int | None):
    if local:
        from distributed import LocalCluster

        return LocalCluster(n_workers=local, threads_per_worker=1, dashboard_address=None)
    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        cores=2,
        processes=1,
        memory="4GB",
        walltime="02:00:00",
        job_script_prologue=[
            'export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"'
        ],
    )
    cluster.scale(jobs=jobs)
    return cluster


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--local", type=int, default=None, help="use a LocalCluster of N workers")
    ap.add_argument("--store", default=None)
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    spec = sweep.load_spec(args.config)
    with make_cluster(args.jobs, args.local) as cluster:
        res = sweep.run(
            spec,
            store=args.store,
            resume=args.resume,
            overwrite=not args.resume,
            scheduler=cluster.scheduler_address,
        )
    print(f"{res.store}: {len(res.computed)} blocks computed, complete={res.complete}")


if __name__ == "__main__":
    main()
