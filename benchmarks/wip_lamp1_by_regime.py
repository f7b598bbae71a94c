"""Evaluate a lamp1 model folder on dev: none/bm25/recent/relevant, per regime."""
import sys, collections, numpy as np
from lampkit import synth
from lampkit.tasks import get_task
from lampkit.llm import Seq2SeqLLM
from lampkit.llm_train import _Rankers, relevant_indices
def main(model_dir, n=200, task="lamp1"):
    t=get_task(task); dev=synth.generate_task(t,"default",0)["dev"][:n]
    llm=Seq2SeqLLM.load(model_dir, device="cpu", dtype="float32", beams=1, max_new_tokens=8, max_input_length=512)
    rk=_Rankers(); rng=np.random.default_rng(0)
    from lampkit.retrievers.dense import Dense
    from lampkit.embedding_cache import CachedEncoder
    from lampkit.encoders import load_encoder
    dense=Dense(CachedEncoder(load_encoder()))
    out={}
    for label in ["none","bm25","recent","dense","relevant"]:
        ps=[]
        for i,ex in enumerate(dev):
            if label=="none": items=[]
            elif label=="relevant":
                rel=relevant_indices(ex); items=rel[:4]
            elif label=="dense": items=[int(j) for j in dense.rank(t,ex).order[:4]]
            else: items=rk.order(label,(task,i),t,ex)[:4]
            ps.append(t.build_prompt(ex.input,[ex.profile[j] for j in items],llm.counter,512))
        gen=llm.generate(ps)
        ok=[g.strip()==(ex.output or "").strip() for g,ex in zip(gen,dev)]
        by=collections.defaultdict(list)
        for o,ex in zip(ok,dev): by[ex.extra["regime"]].append(o)
        out[label]=np.mean(ok)
        print(f"{label:9s} {np.mean(ok):.3f} ", " ".join(f"{r}:{np.mean(v):.2f}" for r,v in sorted(by.items())), flush=True)
if __name__=="__main__": main(sys.argv[1])
