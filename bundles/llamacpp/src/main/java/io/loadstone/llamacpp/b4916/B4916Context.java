package io.loadstone.llamacpp.b4916;

import io.loadstone.llamacpp.LlamaException;
import io.loadstone.llamacpp.LoraAdapter;
import io.loadstone.llamacpp.SecondaryContext;

/** A secondary llama_context of a {@link B4916Model}; every call goes through the model, under its lock. */
final class B4916Context implements SecondaryContext {

    private final B4916Model model;
    private final B4916Model.Ctx ctx;

    B4916Context(B4916Model model, B4916Model.Ctx ctx) {
        this.model = model;
        this.ctx = ctx;
    }

    B4916Model.Ctx ctx() {
        return ctx;
    }

    @Override
    public int nCtx() {
        return model.nCtx();
    }

    @Override
    public int nBatch() {
        return model.nBatch();
    }

    @Override
    public void decode(int[] tokens, int firstPos) throws LlamaException {
        model.decode(ctx, tokens, firstPos, false);
    }

    @Override
    public float[][] decodeAll(int[] tokens, int firstPos) throws LlamaException {
        return model.decode(ctx, tokens, firstPos, true);
    }

    @Override
    public float[] lastLogits() throws LlamaException {
        return model.lastLogits(ctx);
    }

    @Override
    public void clearKvCache() throws LlamaException {
        model.clearKvCache(ctx);
    }

    @Override
    public boolean removeFromKvCache(int p0, int p1) throws LlamaException {
        return model.removeFromKvCache(ctx, p0, p1);
    }

    @Override
    public void setLora(LoraAdapter adapter, float scale) throws LlamaException {
        model.setLora(ctx, adapter, scale);
    }

    @Override
    public boolean removeLora(LoraAdapter adapter) throws LlamaException {
        return model.removeLora(ctx, adapter);
    }

    @Override
    public void clearLoras() throws LlamaException {
        model.clearLoras(ctx);
    }

    @Override
    public boolean isClosed() {
        return ctx.freed || model.isClosed();
    }

    @Override
    public void close() {
        model.free(this);
    }

    @Override
    public String toString() {
        return "SecondaryContext[" + model.file().getFileName() + (isClosed() ? ", closed]" : "]");
    }
}
