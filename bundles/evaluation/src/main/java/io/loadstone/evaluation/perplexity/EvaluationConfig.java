package io.loadstone.evaluation.perplexity;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Where evaluation reads texts and writes its log (Config Admin PID {@value #PID}). */
@ObjectClassDefinition(id = EvaluationConfig.PID, name = "Loadstone perplexity evaluation",
        description = "Folders of the perplexity evaluation.")
public @interface EvaluationConfig {

    String PID = "io.loadstone.evaluation";

    @AttributeDefinition(name = "Datasets folder", description = "Text files (*.txt) offered for evaluation, as "
            + "text-generation-webui's training/datasets. Relative paths are resolved against the Loadstone home "
            + "folder (framework property loadstone.home, else the working directory).")
    String datasets_dir() default "training/datasets";

    @AttributeDefinition(name = "Logs folder", description = "Folder of evaluations.csv, the log of every result. "
            + "Relative to the Loadstone home folder.")
    String logs_dir() default "logs";
}
